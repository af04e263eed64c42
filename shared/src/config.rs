//! The tracker's options, read from the script tag's `data-*` attributes, and
//! the page decisions that depend on them: URL patterns for pricing and
//! checkout pages, and site-search parameters.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::engagement::{DEFAULT_HEARTBEAT_MS, DEFAULT_IDLE_MS};
use crate::limits::{MAX_SLUG_LEN, MAX_TEXT_LEN};

/// Options of one tracker; defaults are what a site without options gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Path patterns of pricing pages, comma-separated (`*` matches
    /// anything), besides the `<meta name="touchline:page" content="pricing">`
    /// tag.
    pub pricing: String,
    /// `step=path pattern` pairs, comma-separated: reaching such a page is
    /// that checkout step. Kept as written and read when a page begins (a
    /// few bytes of work, and no parsed copy to carry in the wasm tracker).
    pub checkout: String,
    /// Query parameters that carry a site-search query, comma-separated.
    pub search_params: String,
    /// Nothing is stored or sent before `touchline('consent', 'granted')`.
    pub require_consent: bool,
    /// Honour Do-Not-Track and Global Privacy Control.
    pub honor_signals: bool,
    /// Activity keeps a visitor engaged for this long (ms).
    pub idle_ms: f64,
    /// Engagement heartbeat while engaged (ms).
    pub heartbeat_ms: f64,
    /// Country calling code for national phone numbers in identify().
    pub phone_country: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            pricing: "/pricing*,/plans*".into(),
            checkout: String::new(),
            search_params: "q,s,search".into(),
            require_consent: false,
            honor_signals: true,
            idle_ms: DEFAULT_IDLE_MS,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            phone_country: None,
        }
    }
}

/// The items of a comma-separated option, trimmed, empty ones skipped.
fn items(v: &str) -> impl Iterator<Item = &str> {
    crate::split::split(v, b',')
        .map(str::trim_ascii)
        .filter(|s| !s.is_empty())
}

fn flag(v: &str) -> bool {
    !crate::split::one_of(v.trim_ascii(), "false,0,no,off")
}

fn ms(v: &str, min: f64) -> Option<f64> {
    let n = crate::json::parse_i64(v.trim_ascii())?;
    let n = u32::try_from(n).ok()? as f64;
    (n >= min).then_some(n)
}

impl Config {
    /// Applies one option: `name` is a `data-*` attribute's name without
    /// `data-`, `v` its value. Unknown names and unreadable values change
    /// nothing (the default stays). Names: `pricing` (patterns), `checkout`
    /// (`step=pattern` list), `search-params`, `require-consent`,
    /// `respect-dnt`, `idle-ms`, `heartbeat-ms`, `phone-country`.
    pub fn set(&mut self, name: &str, v: &str) {
        match name {
            "pricing" => self.pricing = v.to_owned(),
            "checkout" => self.checkout = v.to_owned(),
            "search-params" => self.search_params = v.to_owned(),
            "require-consent" => self.require_consent = flag(v),
            "respect-dnt" => self.honor_signals = flag(v),
            "idle-ms" => self.idle_ms = ms(v, 1_000.0).unwrap_or(self.idle_ms),
            "heartbeat-ms" => self.heartbeat_ms = ms(v, 1_000.0).unwrap_or(self.heartbeat_ms),
            "phone-country" => {
                let v = crate::normalize::skip_leading(v.trim_ascii(), b'+');
                if !v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()) {
                    self.phone_country = Some(v.to_owned());
                }
            }
            _ => {}
        }
    }

    /// True when the page at `path` is a pricing page by URL.
    pub fn is_pricing_path(&self, path: &str) -> bool {
        items(&self.pricing).any(|p| glob(p, path))
    }

    /// The checkout step of the page at `path`, by URL: the first
    /// `step=pattern` whose pattern matches and whose step makes a slug.
    pub fn checkout_step_of(&self, path: &str) -> Option<String> {
        for r in items(&self.checkout) {
            match crate::split::split_once(r, b'=') {
                Some((step, pattern)) if !pattern.is_empty() && glob(pattern, path) => {
                    if let Some(step) = slug(step) {
                        return Some(step);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The site-search query among a URL's decoded query `pairs`, if any
    /// (trimmed, control characters removed, cut to the text limit).
    pub fn search_query<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Option<String> {
        for (k, v) in pairs {
            if items(&self.search_params).any(|p| p == k) && !v.trim_ascii().is_empty() {
                return Some(clean_text(v, MAX_TEXT_LEN));
            }
        }
        None
    }
}

/// Matches `text` against `pattern`, where `*` matches any run of characters
/// (including `/`) and everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// A slug (`a-z0-9_-`, at most `MAX_SLUG_LEN`) made from free text:
/// lowercased, spaces to `_`; `None` if nothing usable remains.
pub fn slug(v: &str) -> Option<String> {
    // Bytes, not chars: only ASCII is kept, and no byte of a multi-byte
    // character is ASCII (a char iterator costs the wasm tracker its UTF-8
    // decoder).
    let mut s = String::new();
    for b in v.trim_ascii().bytes() {
        let c = match b {
            b'A'..=b'Z' => b.to_ascii_lowercase(),
            b' ' => b'_',
            _ => b,
        };
        if s.len() < MAX_SLUG_LEN
            && (c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
        {
            s.push(c as char);
        }
    }
    (!s.is_empty()).then_some(s)
}

/// Text made acceptable to the collector: trimmed, control characters
/// replaced by spaces, cut to `max` bytes on a character boundary.
pub fn clean_text(v: &str, max: usize) -> String {
    let mut s = String::new();
    crate::json::push_mapped(&mut s, v.trim_ascii(), false);
    crate::attribution::truncate(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let mut c = Config::default();
        for (k, v) in pairs {
            c.set(k, v);
        }
        c
    }

    #[test]
    fn patterns_match_with_stars() {
        assert!(glob("/pricing*", "/pricing"));
        assert!(glob("/pricing*", "/pricing/plans"));
        assert!(glob("*/checkout/*/address", "/in/checkout/42/address"));
        assert!(!glob("/pricing", "/pricing/x"));
        assert!(!glob("/pricing*", "/about/pricing"));
        assert!(glob("*", ""));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
        assert!(!glob("a", ""));
        assert!(glob("**", ""));
        assert!(glob("a**", "a"));
        assert!(!glob("a*b", "a"));
        assert!(glob("a*b*", "axxbyy"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn pricing_and_checkout_pages_are_recognised_by_configured_patterns() {
        let c = cfg(&[
            ("pricing", "/plans*, /tarif*"),
            ("checkout", "address=/co/addr*,Pay Now=/co/pay,bad="),
        ]);
        assert!(c.is_pricing_path("/tarifs"));
        assert!(!c.is_pricing_path("/pricing"));
        assert_eq!(c.checkout_step_of("/co/addr/1").as_deref(), Some("address"));
        assert_eq!(c.checkout_step_of("/co/pay").as_deref(), Some("pay_now"));
        assert_eq!(c.checkout_step_of("/co"), None);
        assert!(Config::default().is_pricing_path("/pricing"));
    }

    /// The search query of a whole URL (as the shell's URL parser gives it).
    fn search(c: &Config, url: &str) -> Option<String> {
        let pairs: Vec<_> = crate::attribution::query_pairs(url).collect();
        c.search_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    #[test]
    fn search_queries_come_from_the_configured_parameters() {
        let c = Config::default();
        assert_eq!(
            search(&c, "https://s.example/search?q=silk+saree").as_deref(),
            Some("silk saree")
        );
        assert_eq!(
            search(&c, "https://s.example/?s=%20kurta%20discount").as_deref(),
            Some("kurta discount")
        );
        assert_eq!(search(&c, "https://s.example/?q=&page=2"), None);
        assert_eq!(search(&c, "https://s.example/?query=x"), None);
        let c = cfg(&[("search-params", "query")]);
        assert_eq!(
            search(&c, "https://s.example/?query=x").as_deref(),
            Some("x")
        );
        let long = format!("https://s.example/?q={}", "é".repeat(300));
        assert!(search(&c, &long).is_none());
        assert!(search(&Config::default(), &long).is_some_and(|q| q.len() <= MAX_TEXT_LEN));
    }

    #[test]
    fn options_are_read_with_defaults_for_unreadable_values() {
        let c = cfg(&[
            ("require-consent", ""),
            ("respect-dnt", "false"),
            ("idle-ms", "5000"),
            ("heartbeat-ms", "x"),
            ("phone-country", "+91"),
        ]);
        assert!(c.require_consent);
        assert!(!c.honor_signals);
        assert_eq!(c.idle_ms, 5_000.0);
        assert_eq!(c.heartbeat_ms, DEFAULT_HEARTBEAT_MS);
        assert_eq!(c.phone_country.as_deref(), Some("91"));
        let d = cfg(&[("idle-ms", "5")]);
        assert_eq!(d, Config::default());
    }

    /// The char-by-char cleaning this one replaced.
    fn clean_text_by_chars(v: &str, max: usize) -> String {
        let s: String = v
            .trim_ascii()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        crate::attribution::truncate(s, max)
    }

    #[test]
    fn texts_are_cleaned_as_before_byte_by_byte() {
        let all: String = (0u32..0x250).filter_map(char::from_u32).collect();
        for s in [
            "",
            " ",
            "\t\n ",
            "plain",
            " a\nb ",
            "\u{0}x\u{1f}\u{7f}\u{80}\u{9f}\u{a0}\u{c2}é",
            "\u{85}",
            "x\u{9f}",
            "\u{85}\u{85}é\u{7f}",
            "Ünïcode ✓ \u{1f600}\u{2028}",
            &all,
        ] {
            for max in [0, 1, 2, 3, 5, 200, 1000] {
                assert_eq!(
                    clean_text(s, max),
                    clean_text_by_chars(s, max),
                    "{s:?} {max}"
                );
            }
        }
    }

    #[test]
    fn slugs_and_texts_are_made_acceptable() {
        assert_eq!(slug(" Address Step ").as_deref(), Some("address_step"));
        assert_eq!(slug("!!!"), None);
        assert_eq!(clean_text(" a\nb ", 10), "a b");
        assert_eq!(slug("Ünïcode Stép 2").as_deref(), Some("ncode_stp_2"));
    }
}
