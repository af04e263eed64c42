//! Reference tokens: how a WhatsApp chat is recognised as coming from a web visit.
//!
//! When a visitor clicks a WhatsApp link, the tracker adds ` [ref:tl-xxxxxxxxxx]`
//! (40 random bits, lowercase hex) to the prefilled message and reports the token
//! in its `whatsapp_click` event. When an inbound message contains the token, the
//! collector links that WhatsApp user to the visitor.

#[allow(unused_imports)]
use crate::prelude::*;

/// Prefix of every token.
pub const TOKEN_PREFIX: &str = "tl-";
/// Random bytes in a token (40 bits).
pub const TOKEN_BYTES: usize = 5;
/// Hex digits after the prefix.
pub const TOKEN_HEX_LEN: usize = TOKEN_BYTES * 2;

/// A token from `TOKEN_BYTES` random bytes.
pub fn token_from_bytes(bytes: &[u8; TOKEN_BYTES]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_HEX_LEN);
    s.push_str(TOKEN_PREFIX);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The prefilled message with the token appended as ` [ref:<token>]`
/// (replacing a token already there, so a second click does not stack them).
#[allow(clippy::string_slice)] // the edge's; the tracker uses `walink`'s
pub fn decorate_text(prefill: &str, token: &str) -> String {
    let base = match prefill.find(" [ref:") {
        Some(i) => &prefill[..i],
        None => prefill,
    };
    let mut s = String::with_capacity(base.len() + token.len() + 7);
    s.push_str(base);
    s.push_str(" [ref:");
    s.push_str(token);
    s.push(']');
    s
}

/// Every token found in a message text (case-insensitive; returned lowercase).
#[allow(clippy::string_slice)] // the edge's, not in the tracker's wasm
pub fn find_tokens(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(TOKEN_PREFIX) {
        let start = from + i;
        let hex_start = start + TOKEN_PREFIX.len();
        let hex_end = hex_start + TOKEN_HEX_LEN;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let hex_ok =
            hex_end <= bytes.len() && bytes[hex_start..hex_end].iter().all(u8::is_ascii_hexdigit);
        let after_ok = hex_end >= bytes.len() || !bytes[hex_end].is_ascii_alphanumeric();
        if before_ok && hex_ok && after_ok {
            out.push(lower[start..hex_end].to_owned());
            from = hex_end;
        } else {
            from = hex_start;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_forty_bits_of_lowercase_hex() {
        assert_eq!(
            token_from_bytes(&[0x3f, 0x9a, 0x2c, 0x1b, 0x7d]),
            "tl-3f9a2c1b7d"
        );
    }

    #[test]
    fn the_prefilled_text_gets_one_token() {
        let once = decorate_text("Is COD available?", "tl-3f9a2c1b7d");
        assert_eq!(once, "Is COD available? [ref:tl-3f9a2c1b7d]");
        assert_eq!(
            decorate_text(&once, "tl-0000000000"),
            "Is COD available? [ref:tl-0000000000]"
        );
        assert_eq!(decorate_text("", "tl-0000000000"), " [ref:tl-0000000000]");
    }

    #[test]
    fn tokens_are_found_in_message_text_and_lookalikes_are_not() {
        assert_eq!(
            find_tokens("Hi! [ref:TL-3F9A2C1B7D] is COD ok?"),
            ["tl-3f9a2c1b7d"]
        );
        assert_eq!(
            find_tokens("tl-3f9a2c1b7d and tl-0123456789"),
            ["tl-3f9a2c1b7d", "tl-0123456789"]
        );
        assert!(find_tokens("tl-3f9a2c1b7").is_empty(), "too short");
        assert!(find_tokens("tl-3f9a2c1b7d0").is_empty(), "too long");
        assert!(find_tokens("xtl-3f9a2c1b7d").is_empty(), "glued to a word");
        assert!(find_tokens("tl-zzzzzzzzzz tl-").is_empty());
        assert!(find_tokens("ünïcode tl-").is_empty());
    }
}
