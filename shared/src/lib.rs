//! Touchline's pure core.
//!
//! Everything that can be decided without I/O lives here: the versioned wire
//! schema, its validation and named limits, attribution parsing, and every
//! decision the tracker makes (scroll milestones, engaged time, pricing counts,
//! identify normalisation, delivery and retry, consent, WhatsApp references). No browser
//! and no Worker types; time and ids are passed in by the shells (`tracker/`,
//! `edge/`), so every decision is a plain function that is unit-tested natively.
//!
//! Without the feature `std` the crate is `no_std` + `alloc` and builds only
//! the modules the wasm tracker uses; the edge turns `std` on (through
//! `validate`).
#![cfg_attr(not(feature = "std"), no_std)]
// In the tracker's build, no `&text[a..b]`: its char-boundary panic pulls
// formatting and Unicode tables (~2.7 KB brotli) into the wasm; use `get`.
#![cfg_attr(not(feature = "std"), deny(clippy::string_slice))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

/// What `std`'s prelude would give, for the modules that build `no_std`.
#[allow(unused_imports)]
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

pub mod attribution;
#[cfg(feature = "std")]
pub mod bots;
pub mod config;
pub mod consent;
pub mod delivery;
pub mod engagement;
#[cfg(feature = "validate")]
pub mod friction;
#[cfg(feature = "validate")]
pub mod identity;
#[cfg(feature = "validate")]
pub mod instagram;
pub mod json;
pub mod limits;
#[cfg(feature = "validate")]
pub mod link;
#[cfg(feature = "validate")]
pub mod meta;
pub mod normalize;
#[cfg(feature = "validate")]
pub mod predict;
pub mod pricing;
pub mod reference;
#[cfg(feature = "std")]
pub mod report_params;
#[cfg(feature = "std")]
pub mod reports;
#[cfg(feature = "std")]
pub mod rules;
pub mod schema;
pub mod scroll;
pub mod session;
#[cfg(feature = "validate")]
pub mod sign;
#[cfg(feature = "validate")]
pub mod signal;
#[cfg(feature = "std")]
pub mod sites;
pub mod split;
#[cfg(feature = "validate")]
pub mod stitch;
#[cfg(feature = "validate")]
pub mod timeline;
#[cfg(feature = "validate")]
pub mod touches;
#[cfg(feature = "validate")]
pub mod validate;
pub mod walink;
#[cfg(feature = "validate")]
pub mod whatsapp;

pub use attribution::{Attribution, ReferrerClass};
pub use schema::{Event, EventData, SCHEMA_VERSION};
