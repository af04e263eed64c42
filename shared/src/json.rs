//! A small JSON writer for the wire schema, without serde or float formatting.
//!
//! The tracker ships as wasm and every kilobyte counts: serde's serializer and
//! Rust's float formatting cost more than the whole tracker may weigh. This
//! writer produces exactly what `serde_json` produces for [`Event`] (the golden
//! fixture tests compare the two), writes integers by hand, and writes money
//! (`f64`) with at most three decimals, which is all a price or order value needs.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::attribution::{Attribution, ReferrerClass};
use crate::schema::*;

/// Reads a decimal integer (an optional sign, then 1 to 18 digits): what
/// [`push_i64`] writes, without `str::parse` and its error machinery, which
/// cost the wasm tracker about a kilobyte.
pub fn parse_i64(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as i64;
    }
    Some(if neg { -n } else { n })
}

/// Appends `n` in decimal (the leading digits first, by recursion: no
/// buffer, so no index checks and their panic paths in the wasm tracker).
pub fn push_u64(out: &mut String, n: u64) {
    if n >= 10 {
        push_u64(out, n / 10);
    }
    out.push((b'0' + (n % 10) as u8) as char);
}

/// Appends `n` in decimal, with a minus sign when negative.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends a finite number with at most three decimals (non-finite: `0`).
/// Integers are written without a fraction, as JavaScript would.
pub fn push_num(out: &mut String, v: f64) {
    let neg = v < 0.0;
    let v = if neg { -v } else { v };
    // The integer part and the thousandths; one path writes them all.
    let (int, mut frac) = if !v.is_finite() {
        (0, 0)
    } else if v >= 9.0e12 {
        // Beyond 2^53 / 1000 the thousandths are not representable anyway.
        (v as u64, 0)
    } else {
        // Rounded half away from zero (`f64::round` is std-only).
        let scaled = v * 1000.0;
        let mut milli = scaled as u64;
        if scaled - milli as f64 >= 0.5 {
            milli += 1;
        }
        (milli / 1000, milli % 1000)
    };
    if neg && (int != 0 || frac != 0) {
        out.push('-');
    }
    push_u64(out, int);
    // The thousandths without trailing zeros (constant divisors: no
    // division-by-zero panic path in the wasm tracker).
    if frac != 0 {
        out.push('.');
        while frac != 0 {
            out.push((b'0' + (frac / 100) as u8) as char);
            frac = frac % 100 * 10;
        }
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    push_mapped(out, s, true);
    out.push('"');
}

/// Appends `s` with, when `json`, JSON's escapes, and otherwise each control
/// character (C0, DEL and C1) replaced by a space.
///
/// Byte by byte (a char iterator costs the wasm tracker its UTF-8 decoder):
/// the bytes replaced are ASCII, or C1's, which UTF-8 writes as 0xC2 then
/// 0x80..=0x9F, and no byte of another character is ASCII, so the runs in
/// between are copied whole. One function for both: less code in the wasm.
pub(crate) fn push_mapped(out: &mut String, s: &str, json: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s;
    loop {
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut n = 0;
        while i < bytes.len() {
            n = match (bytes[i], bytes.get(i + 1)) {
                (0..=0x1f, _) => 1,
                (b'"' | b'\\', _) if json => 1,
                (0x7f, _) if !json => 1,
                (0xc2, Some(0x80..=0x9f)) if !json => 2,
                _ => 0,
            };
            if n > 0 {
                break;
            }
            i += 1;
        }
        out.push_str(rest.get(..i).unwrap_or_default());
        let Some(&b) = bytes.get(i) else { break };
        if !json {
            out.push(' ');
        } else {
            let e = match b {
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                b'"' | b'\\' => b,
                _ => b'u',
            };
            out.push('\\');
            out.push(e as char);
            if e == b'u' {
                out.push_str("00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        rest = rest.get(i + n..).unwrap_or_default();
    }
}

/// Writes the members of one JSON object; keeps track of the commas. The
/// tracker writes each event's `data` with it (see [`write_event`]).
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `out`.
    pub fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }
    /// Writes the key of the next member; its value goes into the result.
    pub fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str(self.out, k);
        self.out.push(':');
        self.out
    }
    /// A text member.
    pub fn str(&mut self, k: &str, v: &str) {
        let out = self.key(k);
        push_str(out, v);
    }
    /// A text member when there is a value.
    pub fn opt_str(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    /// A text member when the text is not empty (how the tracker passes an
    /// absent value: no `Option` around every string in the wasm).
    pub fn text(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.str(k, v);
        }
    }
    /// An integer member.
    pub fn int(&mut self, k: &str, v: i64) {
        let out = self.key(k);
        push_i64(out, v);
    }
    /// A money member (at most three decimals, see [`push_num`]).
    pub fn num(&mut self, k: &str, v: f64) {
        let out = self.key(k);
        push_num(out, v);
    }
    /// Closes the object.
    pub fn close(self) {
        self.out.push('}');
    }
}

/// The envelope of an event, borrowed (see [`Event`] for the fields).
pub struct Envelope<'a> {
    /// Schema version.
    pub schema: u32,
    /// The site.
    pub site_id: &'a str,
    /// The persisted visitor id.
    pub visitor_id: &'a str,
    /// The visit.
    pub session_id: &'a str,
    /// Unique per event.
    pub event_id: &'a str,
    /// Client time, ms since the epoch.
    pub ts: i64,
    /// Per-visitor sequence number.
    pub seq: u32,
    /// Page URL.
    pub url: &'a str,
    /// The page's referrer, if any.
    pub referrer: &'a Option<String>,
}

/// An event as JSON: the envelope around `data`, an object already written
/// (with its `kind`). This is how the tracker writes events without building
/// [`Event`] values; [`Event::to_json`] goes through it too, and the golden
/// tests hold that equal to what `serde_json` writes.
pub fn write_event(e: &Envelope<'_>, data: &str) -> String {
    let mut out = String::with_capacity(320 + data.len());
    let mut o = Obj::open(&mut out);
    o.int("schema", e.schema as i64);
    o.str("site_id", e.site_id);
    o.str("visitor_id", e.visitor_id);
    o.str("session_id", e.session_id);
    o.str("event_id", e.event_id);
    o.int("ts", e.ts);
    o.int("seq", e.seq as i64);
    o.str("url", e.url);
    o.opt_str("referrer", e.referrer);
    o.key("data").push_str(data);
    o.close();
    out
}

impl Event {
    /// This event as JSON, the same document `serde_json` writes (for the
    /// current schema version).
    pub fn to_json(&self) -> String {
        let mut data = String::new();
        self.data.write(&mut data);
        let envelope = Envelope {
            schema: self.schema,
            site_id: &self.site_id,
            visitor_id: &self.visitor_id,
            session_id: &self.session_id,
            event_id: &self.event_id,
            ts: self.ts,
            seq: self.seq,
            url: &self.url,
            referrer: &self.referrer,
        };
        write_event(&envelope, &data)
    }
}

impl EventData {
    fn write(&self, out: &mut String) {
        let mut o = Obj::open(out);
        o.str("kind", self.kind());
        match self {
            EventData::PageView(p) => {
                o.opt_str("title", &p.title);
                if !p.attribution.is_empty() {
                    p.attribution.write(o.key("attribution"));
                }
            }
            EventData::ProductView(p) => {
                o.str("sku", &p.sku);
                o.opt_str("name", &p.name);
                if let Some(v) = p.price {
                    o.num("price", v);
                }
                o.opt_str("currency", &p.currency);
                if let Some(n) = p.distinct_in_session {
                    o.int("distinct_in_session", n as i64);
                }
            }
            EventData::Scroll(s) => {
                o.int("depth_pct", s.depth_pct as i64);
                if let Some(m) = s.milestone {
                    o.int("milestone", m as i64);
                }
                o.opt_str("container", &s.container);
            }
            EventData::Engagement(e) => {
                o.int("engaged_ms", e.engaged_ms as i64);
                o.int("total_ms", e.total_ms as i64);
            }
            EventData::PricingView(p) => o.int("count_7d", p.count_7d as i64),
            EventData::CheckoutStep(c) => o.str("step", &c.step),
            EventData::Order(x) => {
                o.str("order_id", &x.order_id);
                o.num("value", x.value);
                o.str("currency", &x.currency);
                o.opt_str("payment_method", &x.payment_method);
            }
            EventData::WhatsappClick(w) => {
                o.str("target", &w.target);
                o.opt_str("reference", &w.reference);
            }
            EventData::Search(s) => o.str("query", &s.query),
            EventData::Identify(i) => {
                o.opt_str("email_sha256", &i.email_sha256);
                o.opt_str("phone_sha256", &i.phone_sha256);
            }
            EventData::Custom(c) => {
                o.str("name", &c.name);
                if !c.props.is_empty() {
                    let mut p = Obj::open(o.key("props"));
                    for (k, v) in &c.props {
                        match v {
                            Scalar::Bool(b) => p.key(k).push_str(if *b { "true" } else { "false" }),
                            Scalar::Num(n) => p.num(k, *n),
                            Scalar::Text(t) => p.str(k, t),
                        }
                    }
                    p.close();
                }
            }
            // Server-side kinds (webhook, /v1/events) are never written by the
            // tracker; they leave through serde on the edge.
            EventData::WhatsappInbound(_)
            | EventData::OrderStatus(_)
            | EventData::CrmStage(_)
            | EventData::Instagram(_)
            | EventData::PaidSearch(_) => {}
            #[cfg(feature = "validate")]
            EventData::InstagramInbound(_) => {}
        }
        o.close();
    }
}

impl Attribution {
    /// Writes this attribution as a JSON object at the end of `out`.
    pub fn write(&self, out: &mut String) {
        let mut o = Obj::open(out);
        o.opt_str("utm_source", &self.utm_source);
        o.opt_str("utm_medium", &self.utm_medium);
        o.opt_str("utm_campaign", &self.utm_campaign);
        o.opt_str("utm_term", &self.utm_term);
        o.opt_str("utm_content", &self.utm_content);
        o.opt_str("gclid", &self.gclid);
        o.opt_str("fbclid", &self.fbclid);
        o.opt_str("ctwa_clid", &self.ctwa_clid);
        o.opt_str("igshid", &self.igshid);
        if let Some(c) = self.referrer_class {
            o.str("referrer_class", c.as_str());
        }
        o.close();
    }
}

impl ReferrerClass {
    /// The class as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferrerClass::Direct => "direct",
            ReferrerClass::Internal => "internal",
            ReferrerClass::Search => "search",
            ReferrerClass::Instagram => "instagram",
            ReferrerClass::Facebook => "facebook",
            ReferrerClass::Whatsapp => "whatsapp",
            ReferrerClass::Email => "email",
            ReferrerClass::Other => "other",
        }
    }
}

/// A batch body: `{"sent_at":…,"events":[…]}` around events already in JSON.
pub fn batch_body(sent_at: i64, events: &[String]) -> String {
    let mut out = String::with_capacity(32 + events.iter().map(|e| e.len() + 1).sum::<usize>());
    out.push_str("{\"sent_at\":");
    push_i64(&mut out, sent_at);
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(e);
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        let mut s = String::new();
        push_num(&mut s, v);
        s
    }

    #[test]
    fn money_is_written_like_javascript_with_at_most_three_decimals() {
        assert_eq!(num(1499.0), "1499");
        assert_eq!(num(1499.99), "1499.99");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(-2.25), "-2.25");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.0e10), "10000000000");
        assert_eq!(num(f64::NAN), "0");
    }

    /// The number writer this one replaced.
    fn push_num_before(out: &mut String, v: f64) {
        if !v.is_finite() {
            out.push('0');
            return;
        }
        let neg = v < 0.0;
        let v = if neg { -v } else { v };
        if v >= 9.0e12 {
            if neg {
                out.push('-');
            }
            push_u64(out, v as u64);
            return;
        }
        let scaled = v * 1000.0;
        let mut milli = scaled as u64;
        if scaled - milli as f64 >= 0.5 {
            milli += 1;
        }
        if neg && milli != 0 {
            out.push('-');
        }
        push_u64(out, milli / 1000);
        let mut frac = milli % 1000;
        if frac != 0 {
            out.push('.');
            while frac != 0 {
                out.push((b'0' + (frac / 100) as u8) as char);
                frac = frac % 100 * 10;
            }
        }
    }

    #[test]
    fn numbers_are_written_as_before() {
        let mut values = alloc::vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::EPSILON,
            0.0004,
            -0.0004,
            0.0005,
            -0.0005,
            0.000_499_999_999_999_999_9,
            0.9995,
            -0.9995,
            1.0005,
            999.9999,
            1234.5675,
            -1499.99,
            8.999_999_999_999e12,
            8_999_999_999_999.999,
            9.0e12,
            -9.0e12,
            9.0e12 + 0.5,
            -9.0e12 - 0.75,
            1.8e19,
            -1.9e19,
            1e300,
        ];
        let mut x = 0.000_123_f64;
        while x < 1e14 {
            values.push(x);
            values.push(-x);
            values.push(x * 1.000_7);
            x *= 3.7;
        }
        for v in values {
            let (mut a, mut b) = (String::new(), String::new());
            push_num(&mut a, v);
            push_num_before(&mut b, v);
            assert_eq!(a, b, "{v:?}");
        }
    }

    #[test]
    fn integers_read_back_what_is_written_and_nothing_else() {
        for n in [0, 7, -42, 1_764_000_000_000, i64::MAX / 1000] {
            let mut s = String::new();
            push_i64(&mut s, n);
            assert_eq!(parse_i64(&s), Some(n));
        }
        assert_eq!(parse_i64("+5"), Some(5));
        for bad in ["", "-", "1.5", "1e3", " 1", "12a", "9999999999999999999"] {
            assert_eq!(parse_i64(bad), None, "{bad}");
        }
    }

    #[test]
    fn strings_are_escaped_as_json() {
        let mut s = String::new();
        push_str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    /// The char-by-char writer this one replaced.
    fn push_str_by_chars(out: &mut String, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    out.push_str("\\u00");
                    out.push(HEX[(c as usize) >> 4] as char);
                    out.push(HEX[(c as usize) & 15] as char);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    #[test]
    fn strings_are_escaped_as_before_byte_by_byte() {
        let mut all: String = (0u32..0x250).filter_map(char::from_u32).collect();
        all.push_str("\u{fffd}\u{2028}\u{1f600}✓");
        for s in [
            "",
            "plain",
            "\"",
            "\\",
            "\u{0}",
            "\u{1f}\u{7f}\u{80}\u{9f}\u{a0}",
            "é\"ü\\\n\r\t\u{8}\u{c}x",
            "\n\n",
            "end\\",
            &all,
        ] {
            let (mut a, mut b) = (String::from("x"), String::from("x"));
            push_str(&mut a, s);
            push_str_by_chars(&mut b, s);
            assert_eq!(a, b, "{s:?}");
        }
    }

    #[test]
    fn integers_cover_their_whole_range() {
        let mut s = String::new();
        push_i64(&mut s, i64::MIN);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        assert_eq!(s, "-9223372036854775808 18446744073709551615");
    }
}
