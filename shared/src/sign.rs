//! HMAC-SHA256 signatures: Meta's `X-Hub-Signature-256` on webhooks, and our own
//! signed chat links. Comparisons are constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::identity::hex;

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Compares two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// The header is not `sha256=` and 64 hex digits.
    Malformed,
    /// The signature does not match the body.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "X-Hub-Signature-256 header is missing",
            SignatureError::Malformed => "X-Hub-Signature-256 must be `sha256=` and 64 hex digits",
            SignatureError::Mismatch => {
                "X-Hub-Signature-256 does not match the body signed with the app secret"
            }
        })
    }
}

/// Checks Meta's `X-Hub-Signature-256: sha256=<hex>` over the raw body bytes.
pub fn verify_hub_signature(
    app_secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let given = header
        .strip_prefix("sha256=")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(SignatureError::Malformed)?
        .to_ascii_lowercase();
    let expected = hex(&hmac_sha256(app_secret, body));
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value Meta would send for `body` (used by tests acting as Meta).
pub fn hub_signature(app_secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(app_secret, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of META-FORMATS.md §1.8 (computed with Python and openssl).
    const BODY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"111111111111111","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550009999","phone_number_id":"222222222222222"},"contacts":[{"profile":{"name":"Test User"},"wa_id":"15550001111"}],"messages":[{"from":"15550001111","id":"wamid.TEST_IN_0001","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]},"field":"messages"}]}]}"#;
    const HEADER: &str = "sha256=c82b06690177a21ed9d3a57a882fce086b57ea0fbf8b82bc41cecfaa036d84b7";

    #[test]
    fn metas_signature_test_vector_verifies() {
        assert_eq!(BODY.len(), 423);
        assert_eq!(hub_signature(b"test_app_secret", BODY.as_bytes()), HEADER);
        assert_eq!(
            verify_hub_signature(b"test_app_secret", BODY.as_bytes(), Some(HEADER)),
            Ok(())
        );
        let upper = HEADER.to_ascii_uppercase().replace("SHA256=", "sha256=");
        assert_eq!(
            verify_hub_signature(b"test_app_secret", BODY.as_bytes(), Some(&upper)),
            Ok(())
        );
    }

    #[test]
    fn missing_malformed_and_forged_signatures_are_refused() {
        let b = BODY.as_bytes();
        assert_eq!(
            verify_hub_signature(b"test_app_secret", b, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_hub_signature(b"test_app_secret", b, Some("c82b0669")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_hub_signature(b"wrong_secret", b, Some(HEADER)),
            Err(SignatureError::Mismatch)
        );
        let tampered = BODY.replace("hi", "ho");
        assert_eq!(
            verify_hub_signature(b"test_app_secret", tampered.as_bytes(), Some(HEADER)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rfc4231_case_two_matches() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
