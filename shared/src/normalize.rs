//! identify(): email and phone normalised the same way everywhere (ASCII
//! lowercasing, as ad platforms do before hashing), so that
//! their SHA-256 digests match those computed by the edge or an ad platform.
//! The browser hashes the result; the raw value never leaves it.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::split::{has, split_once};

/// Lowercase, trimmed email; `None` when it is not an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim_ascii().to_ascii_lowercase();
    let (local, domain) = split_once(&e, b'@')?;
    let ok = !local.is_empty()
        && has(domain, b'.')
        && !domain.starts_with(".")
        && !domain.ends_with(".")
        && !has(domain, b'@')
        && e.len() <= 254
        && !has_space_or_control(&e);
    ok.then_some(e)
}

/// ASCII whitespace or a control character (C0, DEL, C1), found byte by
/// byte (a char iterator costs the wasm tracker its UTF-8 decoder).
fn has_space_or_control(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c <= b' ' || c == 0x7f || (c == 0xc2 && matches!(b.get(i + 1), Some(0x80..=0x9f)))
    })
}

/// `s` without its leading `c`s (a byte scan, for the same reason).
pub(crate) fn skip_leading(s: &str, c: u8) -> &str {
    s.get(s.bytes().take_while(|b| *b == c).count()..)
        .unwrap_or("")
}

/// The E.164 digits of a phone number (country code first, no `+`).
///
/// `+`/`00` prefixes mark an international number; otherwise a national
/// number (with or without its trunk `0`) gets `country` (e.g. `"91"`)
/// prepended; without a country the digits are taken as international.
/// Spaces, dots, dashes and parentheses are ignored; anything else, or a
/// result outside 8..=15 digits, is not a phone number.
pub fn normalize_phone(raw: &str, country: Option<&str>) -> Option<String> {
    let raw = raw.trim_ascii();
    // `&str` patterns here: a `char` one brings its UTF-8 encoder into the
    // wasm tracker.
    let (intl, rest) = match raw.strip_prefix("+") {
        Some(r) => (true, r),
        None => (false, raw),
    };
    let mut digits = String::new();
    // Bytes: only ASCII is accepted, and no byte of another character is.
    for b in rest.bytes() {
        match b {
            b'0'..=b'9' => digits.push(b as char),
            b' ' | b'.' | b'-' | b'(' | b')' => {}
            _ => return None,
        }
    }
    // The result is `prefix` then the digits from `skip` on (one copy).
    let (prefix, skip) = if intl {
        ("", 0)
    } else if digits.starts_with("00") {
        ("", 2)
    } else {
        match country.filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) {
            Some(cc) => {
                let national = skip_leading(&digits, b'0');
                let zeros = digits.len() - national.len();
                if national.starts_with(cc) && national.len() > 10 {
                    ("", zeros)
                } else {
                    (cc, zeros)
                }
            }
            None => ("", 0),
        }
    };
    let mut e164 = prefix.to_owned();
    e164.push_str(digits.get(skip..).unwrap_or_default());
    ((8..=15).contains(&e164.len()) && !e164.starts_with("0")).then_some(e164)
}

/// Lowercase hex of bytes (for digests).
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Priya.S@Example.COM \n").as_deref(),
            Some("priya.s@example.com")
        );
        for bad in [
            "",
            "priya",
            "@example.com",
            "a@b",
            "a b@c.com",
            "a@.com",
            "a@b.com.",
            "a\tb@c.com",
            "a@b\u{7f}.com",
            "a@b\u{85}.com",
            "a@b.com\u{0}x",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
        // Other characters, and the byte after a C1 lead that is not one, pass.
        assert_eq!(
            normalize_email("Zoë@Café.example").as_deref(),
            Some("zoë@café.example")
        );
        assert!(normalize_email("a\u{a9}@b.com").is_some());
    }

    #[test]
    fn phones_become_e164_digits() {
        assert_eq!(
            normalize_phone("+91 98000-00000", None).as_deref(),
            Some("919800000000")
        );
        assert_eq!(
            normalize_phone("0091 (98000) 00000", None).as_deref(),
            Some("919800000000")
        );
        assert_eq!(
            normalize_phone("098000 00000", Some("91")).as_deref(),
            Some("919800000000")
        );
        assert_eq!(
            normalize_phone("98000 00000", Some("91")).as_deref(),
            Some("919800000000")
        );
        assert_eq!(
            normalize_phone("919800000000", Some("91")).as_deref(),
            Some("919800000000")
        );
        assert_eq!(
            normalize_phone("919800000000", None).as_deref(),
            Some("919800000000")
        );
        for bad in [
            "",
            "call me",
            "+91 98000 0000x",
            "12345",
            "+1234567890123456",
            "+91 98000 ００000",
        ] {
            assert_eq!(normalize_phone(bad, Some("91")), None, "{bad}");
        }
    }

    /// The phone normaliser this one replaced.
    fn phone_before(raw: &str, country: Option<&str>) -> Option<String> {
        let raw = raw.trim_ascii();
        let (intl, rest) = match raw.strip_prefix("+") {
            Some(r) => (true, r),
            None => (false, raw),
        };
        let mut digits = String::new();
        for b in rest.bytes() {
            match b {
                b'0'..=b'9' => digits.push(b as char),
                b' ' | b'.' | b'-' | b'(' | b')' => {}
                _ => return None,
            }
        }
        let e164 = if intl {
            digits
        } else if let Some(d) = digits.strip_prefix("00") {
            d.to_owned()
        } else {
            match country.filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) {
                Some(cc) => {
                    let national = skip_leading(&digits, b'0');
                    if national.starts_with(cc) && national.len() > 10 {
                        national.to_owned()
                    } else {
                        let mut s = cc.to_owned();
                        s.push_str(national);
                        s
                    }
                }
                None => digits,
            }
        };
        ((8..=15).contains(&e164.len()) && !e164.starts_with("0")).then_some(e164)
    }

    #[test]
    fn phones_are_normalised_as_before() {
        let countries = [
            None,
            Some(""),
            Some("91"),
            Some("1"),
            Some("0"),
            Some("x1"),
            Some("044"),
        ];
        let mut raws = alloc::vec![
            "",
            "+",
            "++91 98000 00000",
            "0",
            "00",
            "000",
            "+0098000000000",
            "0091 98000 00000",
            "098000 00000",
            "0098000 00000",
            "9198000000000",
            "91 98000 00000",
            "1 (555) 010-9999",
            "+1 555.010.9999",
            " 5550109999 ",
            "005550109999",
            "0005550109999",
            "044 1234 5678",
            "04412345678901",
            "1234567",
            "12345678",
            "123456789012345",
            "1234567890123456",
            "+91 98000 ００000",
            "+91 98000 0000x",
            "0 0 0 0 1 2 3 4 5 6 7 8",
        ];
        let long = "0".repeat(9) + "123456789";
        raws.push(&long);
        for raw in raws {
            for c in countries {
                assert_eq!(
                    normalize_phone(raw, c),
                    phone_before(raw, c),
                    "{raw:?} {c:?}"
                );
            }
        }
    }

    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
    }
}
