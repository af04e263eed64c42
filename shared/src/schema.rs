//! The wire schema, version 1: one envelope and a closed, tagged set of kinds.
//!
//! The tracker serialises these types and the edge deserialises them, so the two
//! can never disagree about a field. The set of kinds is closed: an unknown
//! `kind` or an unknown field is an error, not something stored on faith.

#[allow(unused_imports)]
use crate::prelude::*;

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
    /// A message a customer sent on WhatsApp (from the Cloud API webhook).
    WhatsappInbound(WhatsappInbound),
    /// A later stage of an order, e.g. delivered, paid (cash on delivery), returned.
    OrderStatus(OrderStatus),
    /// A stage of the lead in the business's CRM.
    CrmStage(CrmStage),
    /// An Instagram interaction: a reel or story viewed, a DM, a comment.
    Instagram(Instagram),
    /// A click on a search ad, with the search term that showed it.
    PaidSearch(PaidSearch),
    /// Something a customer did in an Instagram Direct conversation (from the
    /// Instagram messaging webhook): a message, an Icebreaker tap, an ig.me link.
    /// Only the edge (feature `validate`) knows it: the tracker never sends
    /// it, and leaving it out keeps its drop glue out of the tracker's wasm.
    #[cfg(feature = "validate")]
    InstagramInbound(InstagramInbound),
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
    #[serde(
        default,
        skip_serializing_if = "alloc::collections::BTreeMap::is_empty"
    )]
    pub props: alloc::collections::BTreeMap<String, Scalar>,
}

/// Click-to-WhatsApp ad data from the `referral` object of an inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtwaReferral {
    /// The ad (or post) id: the campaign a chat is credited to.
    pub source_id: String,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// URL of the ad or post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Ad headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// Ad primary text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `image` or `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Click id to report back to Meta; absent for WhatsApp Status placements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

/// A message a customer sent on WhatsApp (from the Cloud API webhook).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappInbound {
    /// WhatsApp message id (`wamid.…`), the idempotency key.
    pub message_id: String,
    /// Who sent it: the business-scoped user id when present, else the wa_id.
    pub wa: String,
    /// The sender's wa_id (phone digits), when Meta sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The sender's business-scoped user id, when Meta sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The sender's WhatsApp profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    /// `text`, `button`, `interactive`, or `other` for any other type.
    pub message_type: String,
    /// The type Meta sent when `message_type` is `other` (e.g. `image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
    /// Text, button label or reply title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The click-to-WhatsApp ad that started the chat, on the first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<CtwaReferral>,
    /// The business phone number id the message was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
}

/// A later stage of an order, e.g. delivered, paid (cash on delivery), returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderStatus {
    /// The shop's order id.
    pub order_id: String,
    /// A slug: `placed`, `shipped`, `delivered`, `paid`, `cancelled`, `returned`, ...
    pub status: String,
    /// Order value in `currency` (major unit), if it changed or is now known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// ISO 4217 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Payment method slug, e.g. `cod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
}

/// A stage of the lead in the business's CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmStage {
    /// Stage slug, e.g. `qualified`, `proposal`, `won`.
    pub stage: String,
    /// Pipeline slug, when the CRM has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
}

/// An Instagram interaction: a reel or story viewed, a DM, a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instagram {
    /// Action slug, e.g. `reel_view`, `story_reply`, `dm`, `comment`, `ad_click`.
    pub action: String,
    /// The reel, story or post id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// The ad id, for ad interactions (click-to-Direct ads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// Campaign name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Message or comment text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A click on a search ad, with the search term that showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaidSearch {
    /// The search term, e.g. "brand discount".
    pub term: String,
    /// Engine slug, e.g. `google`, `bing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Campaign name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Click id (gclid, msclkid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<String>,
}

/// The click-to-Direct ad or ig.me link behind an Instagram conversation
/// (Meta's `referral` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramReferral {
    /// `ADS` for a click-to-Direct ad; ig.me links say `IGME-SOURCE-LINK` or
    /// `SHORTLINKS` (kept as Meta sent it, opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Meta's referral type, e.g. `OPEN_THREAD`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub referral_type: Option<String>,
    /// The ad id: the campaign a click-to-Direct conversation is credited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// The `ref` of the ig.me link or the ad.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `ads_context_data.ad_title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_title: Option<String>,
    /// `ads_context_data.photo_url` or `video_url`: the ad's media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

/// Something a customer did in an Instagram Direct conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramInbound {
    /// Meta's message id (`mid`), the idempotency key; an ig.me link opened in
    /// an existing thread (`messaging_referral`) has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The sender's Instagram-scoped user id (IGSID).
    pub igsid: String,
    /// The business's Instagram professional account id (`recipient.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `text`, `attachment`, `story_reply`, `postback` (an Icebreaker tap),
    /// `referral` (an ig.me link opened, no message) or `other`.
    pub message_type: String,
    /// Meta's own type for `attachment` and `other` (e.g. `image`, `ig_reel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
    /// Message text, or the Icebreaker question tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The story a `story_reply` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story_id: Option<String>,
    /// The click-to-Direct ad or ig.me link behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<InstagramReferral>,
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
            EventData::WhatsappInbound(_) => "whatsapp_inbound",
            EventData::OrderStatus(_) => "order_status",
            EventData::CrmStage(_) => "crm_stage",
            EventData::Instagram(_) => "instagram",
            EventData::PaidSearch(_) => "paid_search",
            #[cfg(feature = "validate")]
            EventData::InstagramInbound(_) => "instagram_inbound",
        }
    }

    /// True for kinds only servers may send (`POST /v1/events`, the WhatsApp
    /// and Instagram webhooks): a browser cannot vouch for a chat, a delivery or a CRM stage.
    pub fn server_only(&self) -> bool {
        matches!(
            self,
            EventData::WhatsappInbound(_)
                | EventData::OrderStatus(_)
                | EventData::CrmStage(_)
                | EventData::Instagram(_)
                | EventData::PaidSearch(_)
        ) || self.is_instagram_inbound()
    }

    #[cfg(feature = "validate")]
    fn is_instagram_inbound(&self) -> bool {
        matches!(self, EventData::InstagramInbound(_))
    }

    #[cfg(not(feature = "validate"))]
    fn is_instagram_inbound(&self) -> bool {
        false
    }
}
