//! Instagram: the messaging webhook (Direct conversations, click-to-Direct ads,
//! ig.me links), turned into `instagram_inbound` events; and the names the
//! timeline and reports give Instagram sources.
//!
//! A delivery is `{"object": "instagram", "entry": [{"id", "time", "messaging":
//! [...]}]}`; each messaging event has `sender.id` (the customer's IGSID),
//! `recipient.id` (our professional account), a millisecond `timestamp`, and one
//! of `message`, `postback` (an Icebreaker tap) or `referral` (an ig.me link
//! opened in an existing thread). As with WhatsApp, reading is lenient below the
//! envelope: anything unusable is skipped with a reason (never a failure Meta
//! would retry for days), and only a body that is not a delivery is an error.

use serde_json::Value;

use crate::attribution::{query_pairs, truncate, Attribution};
use crate::identity::{check_igsid, sha256_hex, IdentityKey};
use crate::limits::*;
use crate::link::{verify_ig_ref, IG_REF_PREFIX};
use crate::reference::find_tokens;
use crate::schema::{Event, EventData, InstagramInbound, InstagramReferral, SCHEMA_VERSION};
use crate::whatsapp::{clean, clean_line};

/// The `object` of Instagram deliveries.
pub const OBJECT: &str = "instagram";
/// Session id given to Direct events (they have no web session).
pub const SESSION_ID: &str = "instagram";
/// URL given to Direct events.
pub const DIRECT_URL: &str = "https://www.instagram.com/direct/inbox/";

/// Why a delivery is not one (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The body is not JSON.
    NotJson(String),
    /// No `object` string.
    NoObject,
    /// No `entry` array.
    NoEntry,
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::NotJson(e) => write!(f, "body is not JSON: {e}"),
            DeliveryError::NoObject => f.write_str("body has no `object` string"),
            DeliveryError::NoEntry => f.write_str("body has no `entry` array"),
        }
    }
}

/// Why one part of a delivery was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The delivery is for another `object`.
    Object(String),
    /// An `entry[].changes[]` field (comments, mentions, ...): not messaging.
    Change(String),
    /// `entry[].standby[]`: a conversation another app controls.
    Standby,
    /// A messaging event of a type we do not read (`read`, `reaction`, ...).
    Event(String),
    /// Our own message, echoed back (`is_echo`).
    Echo,
    /// A message the customer deleted.
    Deleted,
    /// No usable `sender.id`.
    NoSender,
    /// No usable `mid`.
    NoMessageId,
    /// A referral without `ad_id` or `ref`; for a message, the message is kept.
    EmptyReferral,
    /// A `ref` longer than we keep or with control characters; dropped.
    BadRef,
    /// Past [`MAX_IG_MESSAGING_EVENTS`].
    TooMany,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Object(o) => write!(f, "object `{o}` is not {OBJECT}; ignored"),
            Skip::Change(c) => write!(f, "field `{c}` is not messaging; ignored"),
            Skip::Standby => f.write_str("standby (another app controls the thread); ignored"),
            Skip::Event(e) => write!(f, "messaging event `{e}` ignored"),
            Skip::Echo => f.write_str("echo of a message the business sent; ignored"),
            Skip::Deleted => f.write_str("message deleted by the customer; ignored"),
            Skip::NoSender => f.write_str("no usable sender.id (IGSID); skipped"),
            Skip::NoMessageId => f.write_str("message has no usable `mid`; skipped"),
            Skip::EmptyReferral => f.write_str("referral names no ad_id or ref; referral ignored"),
            Skip::BadRef => write!(
                f,
                "referral ref is over {MAX_TEXT_LEN} bytes or holds control characters; ref ignored"
            ),
            Skip::TooMany => write!(
                f,
                "more than {MAX_IG_MESSAGING_EVENTS} messaging events in one delivery"
            ),
        }
    }
}

/// One thing a customer did, read from a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Meta's `timestamp` (ms), or the receive time when missing or in the future.
    pub time: i64,
    /// It as a timeline event's data.
    pub data: InstagramInbound,
}

/// What a delivery held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delivery {
    /// Usable events, in delivery order.
    pub events: Vec<Inbound>,
    /// What was not stored, each with where it was and why.
    pub skipped: Vec<(String, Skip)>,
}

impl Delivery {
    /// The skip reasons as `"<path>: <reason>"`, for the answer to Meta.
    pub fn reasons(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(at, why)| {
                if at.is_empty() {
                    why.to_string()
                } else {
                    format!("{at}: {why}")
                }
            })
            .collect()
    }
}

/// Parses a delivery received at `now_ms`.
pub fn parse_delivery(body: &[u8], now_ms: i64) -> Result<Delivery, DeliveryError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| DeliveryError::NotJson(e.to_string()))?;
    let object = v
        .get("object")
        .and_then(Value::as_str)
        .ok_or(DeliveryError::NoObject)?;
    let entries = v
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(DeliveryError::NoEntry)?;
    let mut d = Delivery::default();
    if object != OBJECT {
        d.skipped
            .push((String::new(), Skip::Object(object.to_owned())));
        return Ok(d);
    }
    let mut seen = 0usize;
    for (ei, entry) in entries.iter().enumerate() {
        for (ci, change) in list(entry, "changes").iter().enumerate() {
            let field = s(change, "field").unwrap_or("");
            d.skipped.push((
                format!("entry[{ei}].changes[{ci}]"),
                Skip::Change(slug(field)),
            ));
        }
        if !list(entry, "standby").is_empty() {
            d.skipped
                .push((format!("entry[{ei}].standby"), Skip::Standby));
        }
        for (mi, m) in list(entry, "messaging").iter().enumerate() {
            let at = format!("entry[{ei}].messaging[{mi}]");
            seen += 1;
            if seen > MAX_IG_MESSAGING_EVENTS {
                d.skipped.push((at, Skip::TooMany));
                continue;
            }
            read_event(m, &at, now_ms, &mut d);
        }
    }
    Ok(d)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A string or a number as text (Meta's examples show `ad_id` both ways).
fn id_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(t) if !t.is_empty() => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
    .filter(|t| crate::validate::id("", t).is_ok())
}

/// Meta's names, kept as a short slug in reasons and `original_type`.
fn slug(kind: &str) -> String {
    let out: String = kind
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(MAX_SLUG_LEN)
        .collect();
    if out.is_empty() {
        "unknown".into()
    } else {
        out
    }
}

/// Meta's millisecond `timestamp`; a missing, unreadable or future one
/// becomes the receive time.
fn event_time(m: &Value, now_ms: i64) -> i64 {
    let ms = match m.get("timestamp") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(t)) => t.trim().parse::<i64>().ok(),
        _ => None,
    };
    match ms {
        Some(ms) if ms > 0 && ms <= now_ms.saturating_add(MAX_FUTURE_SKEW_MS) => ms,
        _ => now_ms,
    }
}

fn read_event(m: &Value, at: &str, now_ms: i64, d: &mut Delivery) {
    let Some(igsid) = m
        .get("sender")
        .and_then(|x| s(x, "id"))
        .filter(|i| check_igsid(i).is_ok())
    else {
        d.skipped.push((at.to_owned(), Skip::NoSender));
        return;
    };
    let account_id = m.get("recipient").and_then(|r| id_of(r, "id"));
    let time = event_time(m, now_ms);
    let mut data = InstagramInbound {
        message_id: None,
        igsid: igsid.to_owned(),
        account_id,
        message_type: String::new(),
        original_type: None,
        text: None,
        story_id: None,
        referral: None,
    };
    let referral_of = |holder: &Value, d: &mut Delivery| {
        let r = holder.get("referral")?;
        let (referral, problems) = read_referral(r);
        for p in problems {
            d.skipped.push((format!("{at}.referral"), p));
        }
        referral
    };
    if let Some(msg) = m.get("message") {
        if msg.get("is_echo").and_then(Value::as_bool) == Some(true) {
            d.skipped.push((at.to_owned(), Skip::Echo));
            return;
        }
        if msg.get("is_deleted").and_then(Value::as_bool) == Some(true) {
            d.skipped.push((at.to_owned(), Skip::Deleted));
            return;
        }
        let Some(mid) = s(msg, "mid").filter(|x| usable_mid(x)) else {
            d.skipped.push((at.to_owned(), Skip::NoMessageId));
            return;
        };
        data.message_id = Some(mid.to_owned());
        data.text = s(msg, "text").map(|t| clean(t, MAX_MESSAGE_TEXT_LEN));
        let attachment = list(msg, "attachments")
            .first()
            .map(|a| slug(s(a, "type").unwrap_or("")));
        let story = msg.get("reply_to").and_then(|r| r.get("story"));
        (data.message_type, data.original_type) = if let Some(story) = story {
            data.story_id = id_of(story, "id");
            ("story_reply".into(), None)
        } else if msg.get("is_unsupported").and_then(Value::as_bool) == Some(true) {
            ("other".into(), Some("unsupported".into()))
        } else if data.text.is_some() {
            ("text".into(), None)
        } else if attachment.is_some() {
            ("attachment".into(), attachment)
        } else {
            ("other".into(), None)
        };
        data.referral = referral_of(msg, d);
    } else if let Some(pb) = m.get("postback") {
        // `mid` on postbacks needs Graph v11+; without one the tap is keyed
        // by who, when and what.
        data.message_id = Some(match s(pb, "mid").filter(|x| usable_mid(x)) {
            Some(mid) => mid.to_owned(),
            None => derived_id("postback", igsid, time, s(pb, "payload").unwrap_or("")),
        });
        data.message_type = "postback".into();
        data.text = s(pb, "title").map(|t| clean(t, MAX_TEXT_LEN));
        data.referral = referral_of(pb, d);
    } else if m.get("referral").is_some() {
        data.message_type = "referral".into();
        data.referral = referral_of(m, d);
        if data.referral.is_none() {
            return; // the reason is recorded
        }
    } else {
        let kind = m
            .as_object()
            .and_then(|o| {
                o.keys()
                    .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
            })
            .map_or_else(|| "unknown".to_owned(), |k| slug(k));
        d.skipped.push((at.to_owned(), Skip::Event(kind)));
        return;
    }
    d.events.push(Inbound { time, data });
}

fn usable_mid(mid: &str) -> bool {
    mid.len() <= MAX_IG_MID_LEN && !mid.chars().any(char::is_control)
}

fn derived_id(what: &str, igsid: &str, time: i64, extra: &str) -> String {
    let h = sha256_hex(format!("{what}\n{igsid}\n{time}\n{extra}").as_bytes());
    format!("{what}.{}", &h[..32])
}

/// Reads Meta's `referral`: the ad (`ad_id`, `ads_context_data`) and/or the
/// `ref`. `None` when it names neither; what was dropped is reported.
fn read_referral(r: &Value) -> (Option<InstagramReferral>, Vec<Skip>) {
    let mut problems = Vec::new();
    let reference = match s(r, "ref") {
        Some(x) if x.len() <= MAX_TEXT_LEN && !x.chars().any(char::is_control) => {
            Some(x.to_owned())
        }
        Some(_) => {
            problems.push(Skip::BadRef);
            None
        }
        None => None,
    };
    let ad_id = id_of(r, "ad_id");
    if ad_id.is_none() && reference.is_none() {
        problems.push(Skip::EmptyReferral);
        return (None, problems);
    }
    let ctx = r.get("ads_context_data");
    let media_url = ctx
        .and_then(|c| s(c, "photo_url").or_else(|| s(c, "video_url")))
        .filter(|u| u.contains(':') && u.len() <= MAX_URL_LEN && !u.chars().any(char::is_control))
        .map(str::to_owned);
    let short = |k: &str| s(r, k).map(|v| clean_line(v, MAX_SLUG_LEN));
    let referral = InstagramReferral {
        source: short("source"),
        referral_type: short("type"),
        ad_id,
        reference,
        ad_title: ctx
            .and_then(|c| s(c, "ad_title"))
            .map(|t| clean_line(t, MAX_TEXT_LEN)),
        media_url,
    };
    (Some(referral), problems)
}

impl Inbound {
    /// Id of the timeline event: from the `mid`, so Meta's redeliveries are
    /// stored once; an ig.me referral (no `mid`) from who, when and which ref.
    pub fn event_id(&self) -> String {
        let key = match &self.data.message_id {
            Some(mid) => mid.clone(),
            None => {
                let r = self.data.referral.as_ref();
                derived_id(
                    "referral",
                    &self.data.igsid,
                    self.time,
                    r.and_then(|r| r.reference.as_deref().or(r.ad_id.as_deref()))
                        .unwrap_or(""),
                )
            }
        };
        let h = sha256_hex(key.as_bytes());
        format!("ig-{}", &h[..32])
    }

    /// It as a timeline event of `site_id`.
    pub fn to_event(&self, site_id: &str) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            site_id: site_id.to_owned(),
            visitor_id: format!("ig-{}", self.data.igsid),
            session_id: SESSION_ID.to_owned(),
            event_id: self.event_id(),
            ts: self.time,
            seq: 0,
            url: DIRECT_URL.to_owned(),
            referrer: None,
            data: EventData::InstagramInbound(self.data.clone()),
        }
    }

    /// Identities it links: the sender's `ig:` key; the web visitor an ig.me
    /// `ref` we minted names (checked with `link_secret` at `now_ms`); a
    /// tracker reference token used as the `ref` or written in the text.
    pub fn identity_keys(&self, link_secret: Option<&[u8]>, now_ms: i64) -> Vec<IdentityKey> {
        let mut keys = vec![IdentityKey::Instagram(self.data.igsid.clone())];
        let reference = self
            .data
            .referral
            .as_ref()
            .and_then(|r| r.reference.as_deref());
        if let (Some(r), Some(secret)) = (reference, link_secret) {
            if let Ok(k) = verify_ig_ref(secret, r, now_ms) {
                keys.push(k);
            }
        }
        let texts = [reference, self.data.text.as_deref()];
        for t in texts.into_iter().flatten() {
            for token in find_tokens(t) {
                let k = IdentityKey::Reference(token);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys.truncate(MAX_IDENTITIES_PER_LINK);
        keys
    }
}

/// The `ref` of a referral when it is a campaign label (an ig.me link printed
/// on a poster, a bio link), not one of our stitching tokens.
pub fn campaign_ref(r: &InstagramReferral) -> Option<&str> {
    r.reference.as_deref().filter(|x| {
        !x.starts_with(IG_REF_PREFIX) && find_tokens(x).first().map(String::as_str) != Some(*x)
    })
}

/// Source name of a click-to-Direct ad.
pub const SOURCE_AD: &str = "instagram_ad";
/// Source name of an ig.me link with a campaign `ref`.
pub const SOURCE_IG_ME: &str = "ig_me";

/// Source name of Instagram traffic: `instagram`, or `instagram_reel`,
/// `instagram_story`, `instagram_profile` when the placement is known.
pub fn source_name(placement: Option<&str>) -> String {
    match placement {
        Some(p) => format!("instagram_{p}"),
        None => OBJECT.to_owned(),
    }
}

/// The placement an exported engagement's action names (`reel_view` -> `reel`).
pub fn action_placement(action: &str) -> Option<&'static str> {
    let first = action.split(['_', '-']).next().unwrap_or("");
    match first {
        "reel" | "reels" => Some("reel"),
        "story" | "stories" => Some("story"),
        "profile" | "bio" => Some("profile"),
        _ => None,
    }
}

// ---- Web traffic from Instagram. The tracker classifies landings with
// `attribution.rs` (igshid, utm_source=ig/instagram, instagram.com referrers);
// what only the edge sees or reads (the in-app user agent, `igsh`, placements)
// is decided here, which also keeps the tracker's wasm from growing.

/// True for the user agent of Instagram's in-app browser (`… Instagram 330.0.0.0 …`).
pub fn is_instagram_app(user_agent: &str) -> bool {
    user_agent
        .as_bytes()
        .windows(11)
        .any(|w| &w[..10] == b"Instagram " && w[10].is_ascii_digit())
}

/// Instagram's newer share id (`igsh`; older links say `igshid`, which
/// [`Attribution::from_landing`] reads in the tracker).
pub fn instagram_share_id(url: &str) -> Option<String> {
    query_pairs(url)
        .find(|(k, v)| k == "igsh" && !v.is_empty())
        .map(|(_, v)| truncate(v, MAX_TEXT_LEN))
}

/// The Instagram placement a visit's tags name (`utm_placement` in `url`,
/// then `utm_medium`, then `utm_content`): `reel`, `story` or `profile`
/// (a profile or link-in-bio link).
pub fn instagram_placement(a: &Attribution, url: &str) -> Option<&'static str> {
    let tagged = query_pairs(url)
        .find(|(k, _)| k == "utm_placement")
        .map(|(_, v)| v);
    let found = [
        tagged.as_deref(),
        a.utm_medium.as_deref(),
        a.utm_content.as_deref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| {
        v.split(|c: char| !c.is_ascii_alphanumeric())
            .find_map(placement_word)
    });
    found
}

fn placement_word(w: &str) -> Option<&'static str> {
    let is = |s: &str| w.as_bytes().eq_ignore_ascii_case(s.as_bytes());
    if is("reel") || is("reels") {
        Some("reel")
    } else if is("story") || is("stories") {
        Some("story")
    } else if is("profile") || is("bio") {
        Some("profile")
    } else {
        None
    }
}

/// Completes the Instagram classification of a page view at the edge, with
/// what the tracker does not read: Instagram's in-app browser (only its user
/// agent says so) turns a `direct` landing into `instagram`, and an `igsh`
/// share id (the newer `igshid`) is kept and makes it `instagram` unless a
/// click-to-WhatsApp id names WhatsApp. True when it changed anything.
pub fn classify_web(event: &mut Event, user_agent: &str) -> bool {
    use crate::attribution::ReferrerClass;
    let EventData::PageView(p) = &mut event.data else {
        return false;
    };
    let a = &mut p.attribution;
    let mut changed = false;
    if a.igshid.is_none() {
        if let Some(id) = instagram_share_id(&event.url) {
            a.igshid = Some(id);
            if a.ctwa_clid.is_none() {
                a.referrer_class = Some(ReferrerClass::Instagram);
            }
            changed = true;
        }
    }
    if a.referrer_class == Some(ReferrerClass::Direct) && is_instagram_app(user_agent) {
        a.referrer_class = Some(ReferrerClass::Instagram);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_800_000;
    const IGSID: &str = "990000000000001";

    fn delivery(messaging: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "object": "instagram",
            "entry": [{ "id": "17800000000000001", "time": 1700000700123_i64, "messaging": messaging }]
        }))
        .expect("json")
    }

    fn ad_message(mid: &str) -> Value {
        json!({
            "sender": { "id": IGSID }, "recipient": { "id": "17800000000000001" },
            "timestamp": 1700000700000_i64,
            "message": { "mid": mid, "text": "Is this still available?",
                "referral": { "ref": "spring-promo", "ad_id": "333333333333333", "source": "ADS",
                    "type": "OPEN_THREAD", "ads_context_data": { "ad_title": "Spring sale",
                    "photo_url": "https://example.invalid/ig-ad.jpg" } } }
        })
    }

    #[test]
    fn a_click_to_direct_message_keeps_its_ad_and_millisecond_time() {
        let d = parse_delivery(&delivery(json!([ad_message("TEST_IG_MID_0001")])), NOW)
            .expect("delivery");
        assert!(d.skipped.is_empty(), "{:?}", d.reasons());
        let m = &d.events[0];
        assert_eq!(m.time, 1_700_000_700_000);
        assert_eq!(m.data.igsid, IGSID);
        assert_eq!(m.data.account_id.as_deref(), Some("17800000000000001"));
        assert_eq!(m.data.message_type, "text");
        let r = m.data.referral.as_ref().expect("referral");
        assert_eq!(r.ad_id.as_deref(), Some("333333333333333"));
        assert_eq!(r.source.as_deref(), Some("ADS"));
        assert_eq!(r.reference.as_deref(), Some("spring-promo"));
        assert_eq!(r.ad_title.as_deref(), Some("Spring sale"));
        assert_eq!(
            r.media_url.as_deref(),
            Some("https://example.invalid/ig-ad.jpg")
        );
        assert_eq!(
            m.identity_keys(None, NOW),
            [IdentityKey::Instagram(IGSID.into())]
        );
        // The stored form passes the schema's own server-side validation.
        let e = m.to_event("demo");
        let batch = serde_json::to_vec(&json!({ "sent_at": NOW, "events": [e] })).expect("json");
        let out = crate::validate::validate_server_batch(&batch, NOW).expect("batch");
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }

    #[test]
    fn control_characters_in_referral_sources_and_titles_are_dropped_so_the_event_is_valid() {
        // Found by the mutation property test: a tab in `source` was kept
        // (messages may hold tabs) and the schema then refused the event.
        let mut m = ad_message("M-TAB");
        m["message"]["referral"]["source"] = json!("\t");
        m["message"]["referral"]["type"] = json!("OPEN\n_THREAD");
        m["message"]["referral"]["ads_context_data"]["ad_title"] = json!("Spring\tsale");
        let d = parse_delivery(&delivery(json!([m])), NOW).expect("delivery");
        let r = d.events[0].data.referral.clone().expect("referral");
        assert_eq!(r.source.as_deref(), Some(""));
        assert_eq!(r.referral_type.as_deref(), Some("OPEN_THREAD"));
        assert_eq!(r.ad_title.as_deref(), Some("Springsale"));
        let e = d.events[0].to_event("demo");
        let batch = serde_json::to_vec(&json!({ "sent_at": NOW, "events": [e] })).expect("json");
        let out = crate::validate::validate_server_batch(&batch, NOW).expect("batch");
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }

    #[test]
    fn a_numeric_ad_id_and_a_video_ad_are_read() {
        let mut m = ad_message("M2");
        m["message"]["referral"] = json!({ "ad_id": 333333333333333_i64, "source": "ADS",
            "ads_context_data": { "ad_title": "Reel ad", "video_url": "https://example.invalid/v.jpg" } });
        let d = parse_delivery(&delivery(json!([m])), NOW).expect("delivery");
        let r = d.events[0].data.referral.clone().expect("referral");
        assert_eq!(r.ad_id.as_deref(), Some("333333333333333"));
        assert_eq!(
            r.media_url.as_deref(),
            Some("https://example.invalid/v.jpg")
        );
        assert_eq!(r.reference, None);
    }

    #[test]
    fn an_ig_me_link_in_an_existing_thread_is_a_referral_event_keyed_without_a_mid() {
        let ev = json!({ "sender": { "id": IGSID }, "recipient": { "id": "17800000000000001" },
            "timestamp": 1700000750000_i64,
            "referral": { "ref": "poster-mumbai", "source": "IGME-SOURCE-LINK", "type": "OPEN_THREAD" } });
        let a = parse_delivery(&delivery(json!([ev.clone()])), NOW).expect("a");
        let b = parse_delivery(&delivery(json!([ev])), NOW + 9).expect("b");
        let m = &a.events[0];
        assert_eq!(m.data.message_type, "referral");
        assert_eq!(m.data.message_id, None);
        assert_eq!(
            m.event_id(),
            b.events[0].event_id(),
            "redeliveries share an id"
        );
        let r = m.data.referral.as_ref().expect("referral");
        assert_eq!(campaign_ref(r), Some("poster-mumbai"));
    }

    #[test]
    fn an_ig_me_ref_we_minted_joins_the_web_visitor_and_is_not_a_campaign() {
        let secret = b"link-secret";
        let r = crate::link::mint_ig_ref(secret, "vweb1", NOW + 60_000).expect("ref");
        let ev = json!({ "sender": { "id": IGSID }, "timestamp": 1700000750000_i64,
            "referral": { "ref": r, "source": "IGME-SOURCE-LINK", "type": "OPEN_THREAD" } });
        let d = parse_delivery(&delivery(json!([ev])), NOW).expect("d");
        let m = &d.events[0];
        assert_eq!(
            m.identity_keys(Some(secret), NOW),
            [
                IdentityKey::Instagram(IGSID.into()),
                IdentityKey::Visitor("vweb1".into())
            ]
        );
        assert_eq!(
            m.identity_keys(Some(b"forged"), NOW),
            [IdentityKey::Instagram(IGSID.into())]
        );
        assert_eq!(campaign_ref(m.data.referral.as_ref().expect("r")), None);
        let tl = InstagramReferral {
            source: None,
            referral_type: None,
            ad_id: None,
            reference: Some("tl-3f9a2c1b7d".into()),
            ad_title: None,
            media_url: None,
        };
        assert_eq!(
            campaign_ref(&tl),
            None,
            "a tracker reference is a stitch, not a campaign"
        );
    }

    #[test]
    fn icebreaker_taps_story_replies_and_attachments_are_kept() {
        let d = parse_delivery(
            &delivery(json!([
                { "sender": { "id": IGSID }, "timestamp": 1700000700001_i64,
                  "postback": { "title": "Do you ship to Pune?", "payload": "SHIP",
                    "referral": { "ref": "bio-link", "source": "SHORTLINKS", "type": "OPEN_THREAD" } } },
                { "sender": { "id": IGSID }, "timestamp": 1700000700002_i64,
                  "message": { "mid": "M-story", "text": "love this!",
                    "reply_to": { "story": { "id": "17900000000000009", "url": "https://example.invalid/s" } } } },
                { "sender": { "id": IGSID }, "timestamp": 1700000700003_i64,
                  "message": { "mid": "M-att", "attachments": [{ "type": "ig_reel", "payload": { "url": "https://example.invalid/r" } }] } },
                { "sender": { "id": IGSID }, "timestamp": 1700000700004_i64,
                  "message": { "mid": "M-uns", "is_unsupported": true } }
            ])),
            NOW,
        )
        .expect("delivery");
        let got: Vec<(&str, Option<&str>, Option<&str>)> = d
            .events
            .iter()
            .map(|m| {
                (
                    m.data.message_type.as_str(),
                    m.data.text.as_deref(),
                    m.data.original_type.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("postback", Some("Do you ship to Pune?"), None),
                ("story_reply", Some("love this!"), None),
                ("attachment", None, Some("ig_reel")),
                ("other", None, Some("unsupported")),
            ]
        );
        assert_eq!(
            d.events[1].data.story_id.as_deref(),
            Some("17900000000000009")
        );
        assert!(
            d.events[0].data.message_id.is_some(),
            "a postback without mid gets a derived one"
        );
    }

    #[test]
    fn unknown_events_echoes_and_unusable_parts_are_skipped_with_reasons() {
        let body = serde_json::to_vec(&json!({
            "object": "instagram",
            "entry": [{ "id": "1", "time": 1, "messaging": [
                { "sender": { "id": IGSID }, "timestamp": 1, "read": { "mid": "x" } },
                { "sender": { "id": IGSID }, "timestamp": 1, "reaction": { "mid": "x", "action": "react" } },
                { "sender": { "id": "17800000000000001" }, "timestamp": 1,
                  "message": { "mid": "E1", "text": "our reply", "is_echo": true } },
                { "sender": { "id": IGSID }, "timestamp": 1, "message": { "mid": "D1", "is_deleted": true } },
                { "sender": { "id": IGSID }, "timestamp": 1, "message": { "text": "no mid" } },
                { "recipient": { "id": "1" }, "timestamp": 1, "message": { "mid": "N1", "text": "no sender" } },
                { "sender": { "id": "not an id!" }, "timestamp": 1, "message": { "mid": "N2" } },
                { "sender": { "id": IGSID }, "timestamp": 1, "referral": { "source": "ADS" } },
                { "sender": { "id": IGSID }, "timestamp": 1,
                  "message": { "mid": "R1", "text": "hi", "referral": { "source": "ADS", "type": "OPEN_THREAD" } } }
            ], "changes": [{ "field": "comments", "value": {} }],
               "standby": [{ "sender": { "id": IGSID } }] }]
        }))
        .expect("json");
        let d = parse_delivery(&body, NOW).expect("delivery");
        assert_eq!(
            d.events.len(),
            1,
            "only the message whose referral was empty is kept"
        );
        assert_eq!(d.events[0].data.referral, None);
        let why: Vec<&Skip> = d.skipped.iter().map(|(_, w)| w).collect();
        assert_eq!(
            why,
            [
                &Skip::Change("comments".into()),
                &Skip::Standby,
                &Skip::Event("read".into()),
                &Skip::Event("reaction".into()),
                &Skip::Echo,
                &Skip::Deleted,
                &Skip::NoMessageId,
                &Skip::NoSender,
                &Skip::NoSender,
                &Skip::EmptyReferral,
                &Skip::EmptyReferral,
            ]
        );
        assert_eq!(
            d.reasons()[2],
            "entry[0].messaging[0]: messaging event `read` ignored"
        );
    }

    #[test]
    fn malformed_deliveries_are_errors_and_other_objects_are_ignored() {
        assert!(matches!(
            parse_delivery(b"{nope", NOW),
            Err(DeliveryError::NotJson(_))
        ));
        assert_eq!(parse_delivery(b"[]", NOW), Err(DeliveryError::NoObject));
        assert_eq!(
            parse_delivery(br#"{"object":"instagram"}"#, NOW),
            Err(DeliveryError::NoEntry)
        );
        let other = parse_delivery(br#"{"object":"page","entry":[]}"#, NOW).expect("ok");
        assert_eq!(
            other.skipped,
            [(String::new(), Skip::Object("page".into()))]
        );
    }

    #[test]
    fn the_same_mid_always_gets_the_same_event_id_and_future_times_are_replaced() {
        let mut m = ad_message("SAME");
        m["timestamp"] = json!(NOW + 3_600_000);
        let a = parse_delivery(&delivery(json!([m.clone()])), NOW).expect("a");
        let b = parse_delivery(&delivery(json!([m])), NOW + 5).expect("b");
        assert_eq!(a.events[0].event_id(), b.events[0].event_id());
        assert_eq!(a.events[0].time, NOW);
    }

    #[test]
    fn long_refs_and_texts_are_dropped_or_cut_not_fatal() {
        let mut m = ad_message("LONG");
        m["message"]["referral"]["ref"] = json!("r".repeat(MAX_TEXT_LEN + 1));
        m["message"]["text"] = json!("é".repeat(MAX_MESSAGE_TEXT_LEN));
        let d = parse_delivery(&delivery(json!([m])), NOW).expect("d");
        let e = &d.events[0];
        assert!(e
            .data
            .text
            .as_deref()
            .is_some_and(|t| t.len() <= MAX_MESSAGE_TEXT_LEN));
        let r = e.data.referral.as_ref().expect("the ad is kept");
        assert_eq!(r.reference, None);
        assert_eq!(d.skipped[0].1, Skip::BadRef);
    }

    #[test]
    fn events_past_the_limit_are_skipped_one_by_one() {
        let many: Vec<Value> = (0..MAX_IG_MESSAGING_EVENTS + 2)
            .map(|i| ad_message(&format!("M{i}")))
            .collect();
        let d = parse_delivery(&delivery(Value::Array(many)), NOW).expect("d");
        assert_eq!(d.events.len(), MAX_IG_MESSAGING_EVENTS);
        assert_eq!(d.skipped.len(), 2);
        assert!(d.skipped.iter().all(|(_, w)| *w == Skip::TooMany));
    }

    #[test]
    fn placements_name_instagram_sources() {
        assert_eq!(source_name(None), "instagram");
        assert_eq!(source_name(Some("reel")), "instagram_reel");
        assert_eq!(action_placement("reel_view"), Some("reel"));
        assert_eq!(action_placement("story_reply"), Some("story"));
        assert_eq!(action_placement("comment"), None);
    }

    #[test]
    fn instagram_traffic_is_recognised_by_share_ids_tags_referrers_and_the_in_app_browser() {
        use crate::attribution::ReferrerClass::Instagram;
        let class = |url: &str, r: &str| Attribution::from_landing(url, r).referrer_class;
        let page = "https://shop.example/p";
        assert_eq!(
            instagram_share_id("https://s.example/?a=1&igsh=MWx0#x").as_deref(),
            Some("MWx0")
        );
        assert_eq!(instagram_share_id("https://s.example/?igsh="), None);
        assert_eq!(class("https://s.example/?igshid=MWx0", ""), Some(Instagram));
        assert_eq!(
            class("https://s.example/?utm_source=IG", ""),
            Some(Instagram)
        );
        assert_eq!(class(page, "https://instagram.com/"), Some(Instagram));
        assert_eq!(class(page, "https://l.instagram.com/?u=x"), Some(Instagram));
        assert_eq!(
            class(page, "https://www.instagram.com/reel/x"),
            Some(Instagram)
        );
        let ig_ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                     (KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.18.85 (iPhone14,2; iOS 17_5)";
        assert!(is_instagram_app(ig_ua));
        assert!(is_instagram_app(
            "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36 Instagram 345.0.0.48.95 Android"
        ));
        assert!(!is_instagram_app(
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
        ));
        assert!(!is_instagram_app("Instagram"));
        assert!(!is_instagram_app("InstagramBot/1.0"));
    }

    #[test]
    fn reel_story_and_profile_placements_are_read_from_the_tags() {
        let p = |url: &str| instagram_placement(&Attribution::from_landing(url, ""), url);
        assert_eq!(
            p("https://s.example/?utm_source=instagram&utm_medium=reels"),
            Some("reel")
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_content=Story_Diwali"),
            Some("story")
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_medium=social&utm_content=link_in_bio"),
            Some("profile")
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_placement=profile&utm_medium=reel"),
            Some("profile")
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_content=stories"),
            Some("story")
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_content=reelection"),
            None
        );
        assert_eq!(
            p("https://s.example/?utm_source=ig&utm_medium=social"),
            None
        );
    }

    #[test]
    fn the_in_app_browser_and_igsh_links_make_a_landing_instagram() {
        use crate::attribution::{Attribution, ReferrerClass};
        use crate::schema::PageView;
        let ua = "Mozilla/5.0 (iPhone) Mobile/15E148 Instagram 330.0.0.18.85";
        let page = |url: &str, referrer: &str| Event {
            schema: 1,
            site_id: "demo".into(),
            visitor_id: "v1".into(),
            session_id: "s1".into(),
            event_id: "e1".into(),
            ts: NOW,
            seq: 1,
            url: url.into(),
            referrer: None,
            data: EventData::PageView(PageView {
                title: None,
                attribution: Attribution::from_landing(url, referrer),
            }),
        };
        let class = |e: &Event| match &e.data {
            EventData::PageView(p) => (p.attribution.referrer_class, p.attribution.igshid.clone()),
            _ => (None, None),
        };
        let mut e = page("https://shop.example/", "");
        assert!(classify_web(&mut e, ua));
        assert_eq!(class(&e), (Some(ReferrerClass::Instagram), None));
        let mut from_google = page("https://shop.example/", "https://www.google.com/");
        assert!(
            !classify_web(&mut from_google, ua),
            "a known referrer stays"
        );
        let mut plain = page("https://shop.example/", "");
        assert!(!classify_web(&mut plain, "Mozilla/5.0 Chrome/126"));
        let mut shared = page("https://shop.example/p?igsh=MWx0", "");
        assert!(classify_web(&mut shared, "Mozilla/5.0 Chrome/126"));
        assert_eq!(
            class(&shared),
            (Some(ReferrerClass::Instagram), Some("MWx0".into()))
        );
        let mut ctwa = page("https://shop.example/p?igsh=MWx0&ctwa_clid=C", "");
        classify_web(&mut ctwa, ua);
        assert_eq!(class(&ctwa).0, Some(ReferrerClass::Whatsapp));
    }
}
