//! Signed chat links: an agent or bot sends `https://shop.example/?tl=<token>` in
//! a WhatsApp chat; when the person opens it, the tracker's page view carries the
//! URL, and the collector links that visitor to the WhatsApp user.
//!
//! Token: `1.<expiry, unix seconds>.<first 32 hex of HMAC-SHA256>.<identity key>`,
//! signed over `1.<expiry>.<identity key>` with `LINK_SECRET`. The identity is the
//! WhatsApp user's business-scoped id (`wa:…`) or the SHA-256 of its wa_id
//! (`ph:…`), so no phone number ever appears in a URL. All characters are
//! URL-safe, so the token needs no escaping. A link sent in an Instagram Direct
//! conversation carries the person's Instagram key (`ig:<IGSID>`) the same way.
//!
//! The other direction, web to Instagram: an `ig.me/m/<username>?ref=<ref>` link
//! whose `ref` names the web visitor, signed the same way, so the Direct
//! conversation it opens joins that visitor. Meta allows only `A-Za-z0-9_-=` in
//! a `ref`, so it reads `igv1_<expiry s>_<MAC>_<visitor id>` with the visitor
//! id's dots written as `=` (visitor ids never hold `=`), signed over
//! `igv1.<expiry>.v:<visitor id>` so neither kind of token passes for the other.

use crate::identity::{hex, IdentityKey};
use crate::limits::MAX_LINK_TOKEN_LEN;
use crate::sign::{constant_time_eq, hmac_sha256};

/// Query parameter that carries the token.
pub const LINK_PARAM: &str = "tl";
/// Hex digits of the MAC kept in a token (128 bits).
const MAC_HEX: usize = 32;

/// Why a link token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token of ours (wrong shape, too long, unknown version).
    Malformed,
    /// The signature does not match: forged or altered.
    Forged,
    /// Signed correctly but past its expiry.
    Expired,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkError::Malformed => "link token is malformed",
            LinkError::Forged => "link token signature does not match",
            LinkError::Expired => "link token has expired",
        })
    }
}

/// The MAC of a token of `version` (`1` for chat links, `igv1` for ig.me refs).
fn mac(secret: &[u8], version: &str, expires_s: i64, key: &str) -> String {
    let msg = format!("{version}.{expires_s}.{key}");
    let mut h = hex(&hmac_sha256(secret, msg.as_bytes()));
    h.truncate(MAC_HEX);
    h
}

/// The expiry field, in the canonical form the minters write only: `+`,
/// leading zeros and the like would parse to the same number and make one
/// token many.
fn parse_expiry(exp: &str) -> Result<i64, LinkError> {
    if exp.is_empty()
        || exp.len() > 1 && exp.starts_with('0')
        || !exp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(LinkError::Malformed);
    }
    exp.parse().map_err(|_| LinkError::Malformed)
}

/// Checks the MAC `sig` of (`version`, `expires_s`, `key`), then the expiry.
fn check_signed(
    secret: &[u8],
    version: &str,
    expires_s: i64,
    sig: &str,
    key: &str,
    now_ms: i64,
) -> Result<(), LinkError> {
    if !constant_time_eq(
        sig.as_bytes(),
        mac(secret, version, expires_s, key).as_bytes(),
    ) {
        return Err(LinkError::Forged);
    }
    if now_ms >= expires_s.saturating_mul(1000) {
        return Err(LinkError::Expired);
    }
    Ok(())
}

/// Mints a token for `identity` that expires at `expires_at_ms`.
pub fn mint(secret: &[u8], identity: &IdentityKey, expires_at_ms: i64) -> String {
    let expires_s = expires_at_ms.div_euclid(1000);
    let key = identity.as_key();
    format!("1.{expires_s}.{}.{key}", mac(secret, "1", expires_s, &key))
}

/// Verifies `token` at `now_ms`; returns the identity it carries.
pub fn verify(secret: &[u8], token: &str, now_ms: i64) -> Result<IdentityKey, LinkError> {
    if token.len() > MAX_LINK_TOKEN_LEN {
        return Err(LinkError::Malformed);
    }
    let mut parts = token.splitn(4, '.');
    let (Some("1"), Some(exp), Some(sig), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LinkError::Malformed);
    };
    let expires_s = parse_expiry(exp)?;
    if sig.len() != MAC_HEX {
        return Err(LinkError::Malformed);
    }
    let identity = IdentityKey::parse(key).map_err(|_| LinkError::Malformed)?;
    if !matches!(
        identity,
        IdentityKey::Whatsapp(_) | IdentityKey::Phone(_) | IdentityKey::Instagram(_)
    ) {
        return Err(LinkError::Malformed);
    }
    check_signed(secret, "1", expires_s, sig, key, now_ms)?;
    Ok(identity)
}

/// The `tl` token in a page URL, if any (first occurrence).
pub fn token_in_url(url: &str) -> Option<String> {
    crate::attribution::query_pairs(url)
        .find(|(k, _)| k == LINK_PARAM)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// `url` with `tl=<token>` added to its query (before any `#fragment`).
pub fn add_to_url(url: &str, token: &str) -> String {
    let (base, frag) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{LINK_PARAM}={token}{frag}")
}

/// Prefix of an ig.me `ref` minted by [`mint_ig_ref`].
pub const IG_REF_PREFIX: &str = "igv1_";

/// Mints an ig.me `ref` naming `visitor_id`, valid until `expires_at_ms`;
/// `None` when the visitor id is not one.
pub fn mint_ig_ref(secret: &[u8], visitor_id: &str, expires_at_ms: i64) -> Option<String> {
    IdentityKey::Visitor(visitor_id.to_owned()).check().ok()?;
    let expires_s = expires_at_ms.div_euclid(1000);
    let mac = mac(secret, "igv1", expires_s, &format!("v:{visitor_id}"));
    let encoded = visitor_id.replace('.', "=");
    Some(format!("{IG_REF_PREFIX}{expires_s}_{mac}_{encoded}"))
}

/// Verifies an ig.me `ref` at `now_ms`; returns the visitor it names.
pub fn verify_ig_ref(secret: &[u8], r: &str, now_ms: i64) -> Result<IdentityKey, LinkError> {
    if r.len() > MAX_LINK_TOKEN_LEN {
        return Err(LinkError::Malformed);
    }
    let rest = r.strip_prefix(IG_REF_PREFIX).ok_or(LinkError::Malformed)?;
    let mut parts = rest.splitn(3, '_');
    let (Some(exp), Some(sig), Some(encoded)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Malformed);
    };
    let expires_s = parse_expiry(exp)?;
    if sig.len() != MAC_HEX || encoded.contains('.') {
        return Err(LinkError::Malformed);
    }
    let key = IdentityKey::Visitor(encoded.replace('=', "."));
    key.check().map_err(|_| LinkError::Malformed)?;
    check_signed(secret, "igv1", expires_s, sig, &key.as_key(), now_ms)?;
    Ok(key)
}

/// The ig.me link that opens a Direct conversation with `username`, carrying `r`.
pub fn ig_me_url(username: &str, r: &str) -> String {
    format!("https://ig.me/m/{username}?ref={r}")
}

/// True for an Instagram username: 1 to 30 of `A-Za-z0-9._`.
pub fn is_ig_username(u: &str) -> bool {
    (1..=30).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"link-secret";
    const NOW: i64 = 1_764_052_400_000;

    fn wa() -> IdentityKey {
        IdentityKey::Whatsapp("US.0000000000000000001".into())
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let t = mint(SECRET, &wa(), NOW + 60_000);
        assert!(t.len() <= MAX_LINK_TOKEN_LEN);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b)));
        assert_eq!(verify(SECRET, &t, NOW), Ok(wa()));
        assert_eq!(verify(SECRET, &t, NOW + 59_000), Ok(wa()));
        assert_eq!(verify(SECRET, &t, NOW + 60_000), Err(LinkError::Expired));
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_refused() {
        let t = mint(SECRET, &wa(), NOW + 60_000);
        assert_eq!(verify(b"other secret", &t, NOW), Err(LinkError::Forged));
        let other = t.replace("US.0000000000000000001", "US.0000000000000000002");
        assert_eq!(verify(SECRET, &other, NOW), Err(LinkError::Forged));
        let later = t.replacen(&format!("{}", (NOW + 60_000) / 1000), "9999999999", 1);
        assert_eq!(verify(SECRET, &later, NOW), Err(LinkError::Forged));
        for bad in ["", "1", "2.1.abc.wa:1", "1.x.0123.wa:1", &"1".repeat(300)] {
            assert_eq!(verify(SECRET, bad, NOW), Err(LinkError::Malformed), "{bad}");
        }
        let exp = format!("{}", (NOW + 60_000) / 1000);
        for alias in [format!("+{exp}"), format!("0{exp}")] {
            let t2 = t.replacen(&exp, &alias, 1);
            assert_eq!(verify(SECRET, &t2, NOW), Err(LinkError::Malformed), "{t2}");
        }
        let visitor = mint(SECRET, &IdentityKey::Visitor("vabc".into()), NOW + 60_000);
        assert_eq!(verify(SECRET, &visitor, NOW), Err(LinkError::Malformed));
    }

    #[test]
    fn chat_links_in_instagram_direct_carry_the_igsid() {
        let ig = IdentityKey::Instagram("990000000000001".into());
        let t = mint(SECRET, &ig, NOW + 60_000);
        assert!(t.ends_with(".ig:990000000000001"));
        assert_eq!(verify(SECRET, &t, NOW), Ok(ig));
    }

    #[test]
    fn an_ig_me_ref_names_the_visitor_and_uses_only_characters_meta_allows() {
        let r = mint_ig_ref(SECRET, "v3f.a_b-1", NOW + 60_000).expect("ref");
        assert!(r.starts_with(IG_REF_PREFIX));
        assert!(
            r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)),
            "{r}"
        );
        let v = IdentityKey::Visitor("v3f.a_b-1".into());
        assert_eq!(verify_ig_ref(SECRET, &r, NOW), Ok(v));
        assert_eq!(
            verify_ig_ref(SECRET, &r, NOW + 60_000),
            Err(LinkError::Expired)
        );
        assert_eq!(verify_ig_ref(b"other", &r, NOW), Err(LinkError::Forged));
        let other = r.replace("a_b-1", "a_b-2");
        assert_eq!(verify_ig_ref(SECRET, &other, NOW), Err(LinkError::Forged));
        for bad in [
            "",
            "igv1_",
            "igv1_1_2",
            "spring-promo",
            "igv1_x_y_z",
            &"igv1_9".repeat(60),
        ] {
            assert_eq!(
                verify_ig_ref(SECRET, bad, NOW),
                Err(LinkError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(mint_ig_ref(SECRET, "has space", NOW), None);
        // A chat-link token is not an ig.me ref, and the other way round.
        let chat = mint(SECRET, &IdentityKey::Whatsapp("1".repeat(11)), NOW + 60_000);
        assert_eq!(verify_ig_ref(SECRET, &chat, NOW), Err(LinkError::Malformed));
        assert_eq!(verify(SECRET, &r, NOW), Err(LinkError::Malformed));
        assert_eq!(
            ig_me_url("touchline.shop", &r),
            format!("https://ig.me/m/touchline.shop?ref={r}")
        );
        assert!(is_ig_username("touchline.shop") && !is_ig_username("bad/name"));
    }

    #[test]
    fn the_token_travels_in_the_landing_url() {
        let t = mint(SECRET, &wa(), NOW + 60_000);
        let url = add_to_url("https://shop.example/products/kurta#top", &t);
        assert_eq!(token_in_url(&url).as_deref(), Some(t.as_str()));
        let url2 = add_to_url("https://shop.example/?utm_source=wa", &t);
        assert!(url2.contains("?utm_source=wa&tl="));
        assert_eq!(token_in_url("https://shop.example/?tl="), None);
    }
}
