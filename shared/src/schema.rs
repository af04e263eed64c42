//! The wire schema, version 1: one envelope and a closed, tagged set of kinds.
//!
//! The tracker serialises these types and the edge deserialises them, so the two
//! can never disagree about a field. The set of kinds is closed: an unknown
//! `kind` or an unknown field is an error, not something stored on faith.

use serde::{Deserialize, Serialize};

use crate::attribution::Attribution;

/// The schema version this crate speaks. Events carry it in `schema`.
pub const SCHEMA_VERSION: u32 = 1;

/// One tracked event: the envelope common to every kind, plus its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Schema version; must equal [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The site the event belongs to (configured on the collector).
    pub site_id: String,
    /// First-party, persisted id of the browser (or server-side subject).
    pub visitor_id: String,
    /// Id of the visit; a new one starts after 30 minutes of inactivity.
    pub session_id: String,
    /// Unique per event; the collector stores an id once, so retries are harmless.
    pub event_id: String,
    /// Client time of the event, ms since the Unix epoch.
    pub ts: i64,
    /// Per-visitor sequence number, to order events with the same `ts`.
    pub seq: u32,
    /// Page URL where the event happened.
    pub url: String,
    /// The page's referrer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// What happened.
    pub data: EventData,
}

/// A custom property value: text, number or boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// true / false
    Bool(bool),
    /// any finite number
    Num(f64),
    /// text, at most `MAX_TEXT_LEN` bytes
    Text(String),
}

/// The closed set of event kinds, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventData {
    /// A page was shown: a load, a single-page-app navigation or a bfcache restore.
    PageView(PageView),
    /// A product page was viewed.
    ProductView(ProductView),
    /// Scroll depth reached on a page (or a marked scrollable container).
    Scroll(Scroll),
    /// Engaged dwell time: visible, focused and recently active.
    Engagement(Engagement),
    /// A pricing page was viewed.
    PricingView(PricingView),
    /// A checkout step was reached.
    CheckoutStep(CheckoutStep),
    /// An order was placed.
    Order(Order),
    /// A WhatsApp link (wa.me, api.whatsapp.com, whatsapp://) was clicked.
    WhatsappClick(WhatsappClick),
    /// A site search.
    Search(Search),
    /// The visitor identified; only SHA-256 hex digests ever leave the browser.
    Identify(Identify),
    /// Anything else the site wants on the timeline.
    Custom(Custom),
}

/// A page was shown: a load, a single-page-app navigation or a bfcache restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageView {
    /// Document title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Campaign and click ids read from the URL, and the referrer's class.
    #[serde(default, skip_serializing_if = "Attribution::is_empty")]
    pub attribution: Attribution,
}

/// A product page was viewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductView {
    /// Stock-keeping unit; what comparisons are counted on.
    pub sku: String,
    /// Product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Listed price in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// ISO 4217 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Different products viewed in this session so far, this one included:
    /// 2 or more means the visitor is comparing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_in_session: Option<u32>,
}

/// Scroll depth reached on a page (or a marked scrollable container).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scroll {
    /// Maximum depth seen so far, percent 0..=100.
    pub depth_pct: u8,
    /// The milestone (25, 50, 75, 90, 100) this event announces, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<u8>,
    /// Name of the scrollable container, when not the page itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Engaged dwell time: visible, focused and recently active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engagement {
    /// Engaged milliseconds since the previous engagement event of this page view.
    pub engaged_ms: u32,
    /// Total engaged milliseconds of this page view so far.
    pub total_ms: u32,
}

/// A pricing page was viewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingView {
    /// Pricing views by this visitor in the last 7 days, this one included.
    pub count_7d: u32,
}

/// A checkout step was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutStep {
    /// Step name, a slug such as `cart`, `address`, `payment`, `confirmation`.
    pub step: String,
}

/// An order was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The shop's order id.
    pub order_id: String,
    /// Order value in `currency` (major unit).
    pub value: f64,
    /// ISO 4217 code.
    pub currency: String,
    /// Payment method slug, e.g. `cod`, `upi`, `card`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
}

/// A WhatsApp link (wa.me, api.whatsapp.com, whatsapp://) was clicked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappClick {
    /// The link target as clicked (after decoration).
    pub target: String,
    /// Short reference token added to the prefilled text, to recognise the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A site search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The query as typed.
    pub query: String,
}

/// The visitor identified; only SHA-256 hex digests ever leave the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    /// SHA-256 of the normalised (trimmed, lowercased) email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_sha256: Option<String>,
    /// SHA-256 of the phone's E.164 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_sha256: Option<String>,
}

/// Anything else the site wants on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Custom {
    /// Event name, a slug.
    pub name: String,
    /// Flat properties.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub props: std::collections::BTreeMap<String, Scalar>,
}

impl EventData {
    /// The `kind` tag, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::PageView(_) => "page_view",
            EventData::ProductView(_) => "product_view",
            EventData::Scroll(_) => "scroll",
            EventData::Engagement(_) => "engagement",
            EventData::PricingView(_) => "pricing_view",
            EventData::CheckoutStep(_) => "checkout_step",
            EventData::Order(_) => "order",
            EventData::WhatsappClick(_) => "whatsapp_click",
            EventData::Search(_) => "search",
            EventData::Identify(_) => "identify",
            EventData::Custom(_) => "custom",
        }
    }
}
