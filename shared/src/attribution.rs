//! Attribution on landing: campaign parameters, ad click ids and the class of
//! the referrer. Decided here so that the tracker and the edge always agree.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

use crate::split::one_of;

/// Where a visit came from, judged by its referrer and click ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerClass {
    /// No referrer and no campaign.
    Direct,
    /// Another page of the same site.
    Internal,
    /// A web search engine.
    Search,
    /// Instagram (app, web, or an `igshid` link).
    Instagram,
    /// Facebook (app, web, or an `fbclid` link).
    Facebook,
    /// WhatsApp (a chat link, or a click-to-WhatsApp ad's `ctwa_clid`).
    Whatsapp,
    /// A webmail client or an email campaign.
    Email,
    /// Any other site.
    Other,
}

/// Campaign parameters and click ids read from a landing URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribution {
    /// `utm_source`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    /// `utm_medium`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    /// `utm_campaign`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// `utm_term` (paid-search keyword)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    /// `utm_content`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
    /// Google Ads click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
    /// Meta (Facebook/Instagram) click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbclid: Option<String>,
    /// Click-to-WhatsApp ad click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    /// Instagram share id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igshid: Option<String>,
    /// Class of the referrer (absent on internal navigation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_class: Option<ReferrerClass>,
}

impl Attribution {
    /// True when nothing was found (so the field is left off the wire).
    pub fn is_empty(&self) -> bool {
        !self.has_campaign() && self.referrer_class.is_none()
    }

    /// True when the URL carried any campaign parameter or click id.
    pub fn has_campaign(&self) -> bool {
        self.utm_source.is_some()
            || self.utm_medium.is_some()
            || self.utm_campaign.is_some()
            || self.utm_term.is_some()
            || self.utm_content.is_some()
            || self.gclid.is_some()
            || self.fbclid.is_some()
            || self.ctwa_clid.is_some()
            || self.igshid.is_some()
    }

    /// Reads attribution from a page URL and its referrer.
    ///
    /// `url` is the full page URL; `referrer` is `document.referrer` (empty when none).
    /// Values longer than `MAX_TEXT_LEN` are cut (on a char boundary) rather than
    /// losing the whole page view.
    pub fn from_landing(url: &str, referrer: &str) -> Attribution {
        let pairs: Vec<(String, String)> = query_pairs(url).collect();
        Attribution::from_parts(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &host_of(url).to_ascii_lowercase(),
            &host_of(referrer).to_ascii_lowercase(),
        )
    }

    /// The same decision from a URL already taken apart: its decoded query
    /// `pairs` and the lowercase hosts of the page and of the referrer (the
    /// tracker's shell has the browser's URL parser do that).
    pub fn from_parts<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
        page_host: &str,
        ref_host: &str,
    ) -> Attribution {
        let mut a = Attribution::default();
        for (k, v) in pairs {
            if v.is_empty() {
                continue;
            }
            let slot = match k {
                "utm_source" => &mut a.utm_source,
                "utm_medium" => &mut a.utm_medium,
                "utm_campaign" => &mut a.utm_campaign,
                "utm_term" => &mut a.utm_term,
                "utm_content" => &mut a.utm_content,
                "gclid" => &mut a.gclid,
                "fbclid" => &mut a.fbclid,
                "ctwa_clid" => &mut a.ctwa_clid,
                "igshid" => &mut a.igshid,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(truncate(v.to_owned(), crate::limits::MAX_TEXT_LEN));
            }
        }
        a.referrer_class = classify(&a, page_host, ref_host);
        a
    }
}

/// Decides the referrer class; `None` means internal navigation without a campaign.
fn classify(a: &Attribution, page_host: &str, ref_host: &str) -> Option<ReferrerClass> {
    use ReferrerClass::*;
    let source = a.utm_source.as_deref().unwrap_or("").to_ascii_lowercase();
    let medium = a.utm_medium.as_deref().unwrap_or("").to_ascii_lowercase();
    // Click ids are the strongest evidence, then explicit campaign tags, then the referrer.
    let class = if a.ctwa_clid.is_some() {
        Whatsapp
    } else if a.igshid.is_some() || one_of(&source, "ig,instagram") {
        Instagram
    } else if medium == "email" || one_of(&source, "email,newsletter") {
        Email
    } else if one_of(&source, "whatsapp,wa") {
        Whatsapp
    } else if a.gclid.is_some() {
        Search
    } else if !ref_host.is_empty() {
        let by_host = classify_host(ref_host);
        if by_host == Other && same_site(ref_host, page_host) {
            if a.has_campaign() {
                return Some(if a.fbclid.is_some() { Facebook } else { Other });
            }
            return None;
        }
        by_host
    } else if a.fbclid.is_some() || one_of(&source, "fb,facebook,meta") {
        Facebook
    } else if a.has_campaign() {
        Other
    } else {
        Direct
    };
    Some(class)
}

fn classify_host(host: &str) -> ReferrerClass {
    use ReferrerClass::*;
    if one_of(
        host,
        "mail.google.com,outlook.live.com,outlook.office.com,mail.yahoo.com,mail.proton.me",
    ) {
        return Email;
    }
    // A label of the host is one of `words`.
    let has = |words: &str| {
        for l in crate::split::split(host, b'.') {
            if one_of(l, words) {
                return true;
            }
        }
        false
    };
    if has("instagram") {
        Instagram
    } else if has("facebook") || one_of(host, "fb.com,m.me") {
        Facebook
    } else if has("whatsapp") || host == "wa.me" {
        Whatsapp
    } else if has("google,bing,duckduckgo,yahoo,yandex,baidu,ecosia") {
        Search
    } else {
        Other
    }
}

fn same_site(a: &str, b: &str) -> bool {
    fn strip(h: &str) -> &str {
        h.strip_prefix("www.").unwrap_or(h)
    }
    !b.is_empty() && strip(a) == strip(b)
}

/// The lowercase host of an absolute URL (no port); empty when there is none.
pub fn host_of(url: &str) -> &str {
    // A byte scan rather than `str::find(&str)`: the substring searcher
    // costs kilobytes in the wasm tracker.
    let rest = match url.as_bytes().windows(3).position(|w| w == b"://") {
        // `get`, not indexing (these are ASCII positions): a slice that
        // cannot panic keeps core's char-boundary panic, and the Unicode
        // tables its message needs, out of the wasm tracker.
        Some(i) => url.get(i + 3..).unwrap_or(""),
        None => return "",
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or(rest);
    // Byte scans from the end: the char searcher behind `rfind`/`rsplit`
    // costs the wasm tracker about 250 bytes brotli.
    let host = match authority.bytes().rposition(|b| b == b'@') {
        Some(i) => authority.get(i + 1..).unwrap_or(""),
        None => authority,
    };
    match host.bytes().rposition(|b| b == b':') {
        Some(i) if !host.ends_with(']') => host.get(..i).unwrap_or(host),
        _ => host,
    }
}

/// Decoded `key=value` pairs of a URL's query string (before any `#`).
pub fn query_pairs(url: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let query = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(""))
        .unwrap_or("");
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` as space; invalid escapes are kept as they
/// are, and escapes that do not decode to UTF-8 leave the text undecoded.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    // Escapes that do not form UTF-8 leave the text as it was.
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub fn truncate(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    // A copy rather than `String::truncate`, whose char-boundary assertion
    // would bring a panic path into the wasm tracker (this is the rare path);
    // `get` fails until `end` is on a char boundary (at 0 at the latest).
    let mut end = max;
    loop {
        if let Some(cut) = s.get(..end) {
            return cut.to_owned();
        }
        end -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReferrerClass::*;

    fn class(url: &str, referrer: &str) -> Option<ReferrerClass> {
        Attribution::from_landing(url, referrer).referrer_class
    }

    #[test]
    fn texts_are_cut_on_char_boundaries_as_before() {
        let before = |s: &str, max: usize| -> String {
            if s.len() <= max {
                return s.to_owned();
            }
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        };
        for s in [
            "",
            "a",
            "abc",
            "é",
            "aé",
            "✓✓",
            "\u{1f600}x",
            "xé✓\u{1f600}y",
        ] {
            for max in 0..12 {
                assert_eq!(truncate(s.to_owned(), max), before(s, max), "{s:?} {max}");
            }
        }
    }

    #[test]
    fn same_site_ignores_one_leading_www() {
        assert!(same_site("www.shop.example", "shop.example"));
        assert!(same_site("shop.example", "www.shop.example"));
        assert!(same_site("www.shop.example", "www.shop.example"));
        assert!(!same_site("www.www.shop.example", "shop.example"));
        assert!(!same_site("shop.example", ""));
        assert!(!same_site("", ""));
        assert!(same_site("", "www."));
        assert!(!same_site("blog.shop.example", "shop.example"));
    }

    #[test]
    fn landing_url_yields_campaign_and_click_ids() {
        let a = Attribution::from_landing(
            "https://shop.example/?utm_source=meta&utm_campaign=diwali%20sale&fbclid=X1#top",
            "",
        );
        assert_eq!(a.utm_source.as_deref(), Some("meta"));
        assert_eq!(a.utm_campaign.as_deref(), Some("diwali sale"));
        assert_eq!(a.fbclid.as_deref(), Some("X1"));
        assert_eq!(a.referrer_class, Some(Facebook));
    }

    #[test]
    fn referrer_hosts_are_classified() {
        let page = "https://shop.example/p";
        assert_eq!(class(page, ""), Some(Direct));
        assert_eq!(class(page, "https://www.google.co.in/"), Some(Search));
        assert_eq!(class(page, "https://l.instagram.com/?u=x"), Some(Instagram));
        assert_eq!(class(page, "https://m.facebook.com/"), Some(Facebook));
        assert_eq!(class(page, "https://wa.me/123"), Some(Whatsapp));
        assert_eq!(class(page, "https://mail.google.com/mail/u/0"), Some(Email));
        assert_eq!(class(page, "https://blog.example.org/post"), Some(Other));
        assert_eq!(class(page, "https://shop.example/"), None);
        assert_eq!(class(page, "https://www.shop.example/"), None);
    }

    #[test]
    fn click_ids_beat_the_referrer() {
        assert_eq!(
            class(
                "https://s.example/?ctwa_clid=abc",
                "https://www.google.com/"
            ),
            Some(Whatsapp)
        );
        assert_eq!(class("https://s.example/?igshid=abc", ""), Some(Instagram));
        assert_eq!(class("https://s.example/?gclid=abc", ""), Some(Search));
        assert_eq!(
            class("https://s.example/?utm_medium=email&utm_source=x", ""),
            Some(Email)
        );
        assert_eq!(
            class("https://s.example/?utm_campaign=x", "https://s.example/"),
            Some(Other)
        );
    }

    #[test]
    fn broken_escapes_and_long_values_do_not_lose_the_page_view() {
        let long = "x".repeat(1000);
        let a = Attribution::from_landing(
            &format!("https://s.example/?utm_source=%zz%&utm_term={long}"),
            "",
        );
        assert_eq!(a.utm_source.as_deref(), Some("%zz%"));
        assert_eq!(
            a.utm_term.map(|t| t.len()),
            Some(crate::limits::MAX_TEXT_LEN)
        );
    }

    #[test]
    fn hosts_are_read_without_port_or_credentials() {
        assert_eq!(host_of("http://127.0.0.1:8787/x"), "127.0.0.1");
        assert_eq!(host_of("https://u:p@shop.example?x"), "shop.example");
        assert_eq!(host_of("not a url"), "");
    }
}
