//! WhatsApp links: which links are chats, and how the tracker marks the
//! prefilled message with a reference token so that the collector can tie the
//! chat that follows to this visitor.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribution::host_of;

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

/// The link's prefilled text (decoded) with ` [ref:TOKEN]` at its end,
/// replacing a token from an earlier click, so a link clicked twice carries
/// one token. The same text as [`crate::reference::decorate_text`] writes (a
/// test holds them equal), found with a byte scan: `str::find(&str)` pulls a
/// substring searcher into the wasm tracker. The tracker's shell puts it into
/// the link with the browser's URL API.
pub fn decorate_text(prefill: &str, token: &str) -> String {
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
    }

    #[test]
    fn the_token_is_appended_to_the_prefilled_text() {
        assert_eq!(
            decorate_text("Is COD available?", "tl-3f9a2c1b7d"),
            "Is COD available? [ref:tl-3f9a2c1b7d]"
        );
        assert_eq!(decorate_text("", "tl-0000000001"), " [ref:tl-0000000001]");
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
        let once = decorate_text("Hi", "tl-aaaaaaaaaa");
        let twice = decorate_text(&once, "tl-bbbbbbbbbb");
        assert_eq!(twice, "Hi [ref:tl-bbbbbbbbbb]");
        assert_eq!(crate::reference::find_tokens(&twice), ["tl-bbbbbbbbbb"]);
    }
}
