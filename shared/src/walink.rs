//! WhatsApp links: which links are chats, and how the tracker marks the
//! prefilled message with a reference token so that the collector can tie the
//! chat that follows to this visitor.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribution::{host_of, percent_decode};

/// True for `wa.me`, `api.whatsapp.com` (and `web.`/`chat.whatsapp.com`) and
/// `whatsapp://` links.
pub fn is_whatsapp_link(href: &str) -> bool {
    let lower = href.trim_ascii().to_ascii_lowercase();
    let protocol = match lower.as_bytes().iter().position(|b| *b == b':') {
        Some(i) => lower.get(..=i).unwrap_or(""),
        None => "",
    };
    is_chat(protocol, host_of(&lower))
}

/// The same decision from a link the browser has taken apart: its
/// `protocol` (with the colon, as `HTMLAnchorElement.protocol` gives it) and
/// its lowercase `host`.
pub fn is_chat(protocol: &str, host: &str) -> bool {
    if protocol == "whatsapp:" {
        return true;
    }
    let host = host.strip_prefix("www.").unwrap_or(host);
    matches!(protocol, "https:" | "http:")
        && matches!(host, "wa.me" | "api.whatsapp.com" | "web.whatsapp.com")
}

/// The link with ` [ref:TOKEN]` at the end of its prefilled `text`
/// (added when there is none), as [`decorate_text`] writes it: a token from an
/// earlier click is replaced, so a link clicked twice carries one token. The
/// fragment is kept.
pub fn decorate(href: &str, token: &str) -> String {
    let query = href.split('#').next().and_then(|b| b.split_once('?'));
    let text = query.map_or("", |(_, q)| {
        q.split('&')
            .filter_map(|p| p.strip_prefix("text="))
            .next_back()
            .unwrap_or("")
    });
    decorate_with(href, &percent_decode(text), token)
}

/// [`decorate`] with the link's prefilled text already decoded (by the
/// browser's URL parser, in the tracker).
pub fn decorate_with(href: &str, prefill: &str, token: &str) -> String {
    let (base, frag) = match href.find('#') {
        // `get`, not indexing, as in `host_of`: no char-boundary panic path.
        Some(i) => (href.get(..i).unwrap_or(href), href.get(i..).unwrap_or("")),
        None => (href, ""),
    };
    let (path, query) = match base.find('?') {
        Some(i) => (
            base.get(..i).unwrap_or(base),
            base.get(i + 1..).unwrap_or(""),
        ),
        None => (base, ""),
    };
    let rest = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("text="));
    let text = decorate_text(prefill, token);
    let mut out = String::from(path);
    out.push('?');
    for p in rest {
        out.push_str(p);
        out.push('&');
    }
    out.push_str("text=");
    out.push_str(&percent_encode(&text));
    out.push_str(frag);
    out
}

/// The same text as [`crate::reference::decorate_text`] writes (a test holds
/// them equal), found with a byte scan: `str::find(&str)` pulls a substring
/// searcher into the wasm tracker.
fn decorate_text(prefill: &str, token: &str) -> String {
    let base = match prefill.as_bytes().windows(6).position(|w| w == b" [ref:") {
        Some(i) => prefill.get(..i).unwrap_or(prefill),
        None => prefill,
    };
    let mut s = String::with_capacity(base.len() + token.len() + 7);
    s.push_str(base);
    s.push_str(" [ref:");
    s.push_str(token);
    s.push(']');
    s
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_links_are_recognised() {
        for yes in [
            "https://wa.me/919800000000",
            "https://api.whatsapp.com/send?phone=91980",
            "whatsapp://send?phone=91980&text=hi",
            "HTTPS://WA.ME/1",
        ] {
            assert!(is_whatsapp_link(yes), "{yes}");
        }
        for no in [
            "https://example.com/wa.me",
            "https://notwa.me/",
            "mailto:a@b.c",
            "/wa.me",
            "",
        ] {
            assert!(!is_whatsapp_link(no), "{no}");
        }
    }

    #[test]
    fn links_taken_apart_by_the_browser_get_the_same_decisions() {
        assert!(is_chat("https:", "wa.me"));
        assert!(is_chat("http:", "www.wa.me"));
        assert!(is_chat("whatsapp:", ""));
        assert!(!is_chat("mailto:", ""));
        assert!(!is_chat("https:", "notwa.me"));
        assert!(!is_chat("ftp:", "wa.me"));
        let href = "https://wa.me/1?text=Hi%20there+you&x=1#f";
        assert_eq!(
            decorate_with(href, "Hi there you", "tl-aaaaaaaaaa"),
            decorate(href, "tl-aaaaaaaaaa")
        );
    }

    #[test]
    fn the_token_is_appended_to_the_prefilled_text() {
        assert_eq!(
            decorate(
                "https://wa.me/919800000000?text=Is%20COD%20available%3F",
                "tl-3f9a2c1b7d"
            ),
            "https://wa.me/919800000000?text=Is%20COD%20available%3F%20%5Bref%3Atl-3f9a2c1b7d%5D"
        );
        assert_eq!(
            decorate("https://wa.me/919800000000", "tl-0000000001"),
            "https://wa.me/919800000000?text=%20%5Bref%3Atl-0000000001%5D"
        );
        assert_eq!(
            decorate("whatsapp://send?phone=91&text=hi+there#x", "tl-0000000002"),
            "whatsapp://send?phone=91&text=hi%20there%20%5Bref%3Atl-0000000002%5D#x"
        );
    }

    #[test]
    fn the_text_is_decorated_exactly_as_the_reference_module_says() {
        for text in ["", "Hi", "Is COD ok? [ref:tl-0123456789]", "a [ref:b"] {
            assert_eq!(
                decorate_text(text, "tl-3f9a2c1b7d"),
                crate::reference::decorate_text(text, "tl-3f9a2c1b7d")
            );
        }
        assert!("tl-3f9a2c1b7d".starts_with(crate::reference::TOKEN_PREFIX));
    }

    #[test]
    fn a_second_click_replaces_the_token_instead_of_adding_one() {
        let once = decorate("https://wa.me/1?text=Hi", "tl-aaaaaaaaaa");
        let twice = decorate(&once, "tl-bbbbbbbbbb");
        assert_eq!(twice, "https://wa.me/1?text=Hi%20%5Bref%3Atl-bbbbbbbbbb%5D");
        let text = percent_decode(twice.split("text=").nth(1).unwrap_or(""));
        assert_eq!(crate::reference::find_tokens(&text), ["tl-bbbbbbbbbb"]);
    }
}
