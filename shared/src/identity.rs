//! Identities and profiles: the keys that name a person, how raw phones and
//! emails become keys, and which profile survives a merge.
//!
//! A profile is the union of identity keys: `v:<visitor_id>`, `wa:<bsuid or
//! wa_id>`, `ph:<sha256>`, `em:<sha256>`, `order:<order_id>` and
//! `ref:<reference token>`, `ig:<Instagram-scoped user id>`. Every key maps to
//! exactly one profile; linking keys
//! that map to different profiles merges those profiles.

use sha2::{Digest, Sha256};

use crate::limits::{MAX_ID_LEN, MAX_WA_ID_LEN};

/// One identity key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityKey {
    /// A browser's visitor id.
    Visitor(String),
    /// A WhatsApp user: business-scoped user id when known, else the wa_id.
    Whatsapp(String),
    /// SHA-256 (lowercase hex) of a normalised phone number.
    Phone(String),
    /// SHA-256 (lowercase hex) of a normalised email address.
    Email(String),
    /// A shop order id.
    Order(String),
    /// A reference token the tracker put into a prefilled WhatsApp message.
    Reference(String),
    /// An Instagram user: the Instagram-scoped user id (IGSID) of a Direct
    /// conversation, its own kind (it is not a phone and not a WhatsApp id).
    Instagram(String),
}

impl IdentityKey {
    /// The key as stored in the directory, e.g. `wa:15550001111`.
    pub fn as_key(&self) -> String {
        let (p, v) = match self {
            IdentityKey::Visitor(v) => ("v", v),
            IdentityKey::Whatsapp(v) => ("wa", v),
            IdentityKey::Phone(v) => ("ph", v),
            IdentityKey::Email(v) => ("em", v),
            IdentityKey::Order(v) => ("order", v),
            IdentityKey::Reference(v) => ("ref", v),
            IdentityKey::Instagram(v) => ("ig", v),
        };
        format!("{p}:{v}")
    }

    /// Reads and checks a stored or user-given key.
    pub fn parse(s: &str) -> Result<IdentityKey, String> {
        let (p, v) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not an identity key (prefix:value)"))?;
        let key = match p {
            "v" => IdentityKey::Visitor(v.to_owned()),
            "wa" => IdentityKey::Whatsapp(v.to_owned()),
            "ph" => IdentityKey::Phone(v.to_owned()),
            "em" => IdentityKey::Email(v.to_owned()),
            "order" => IdentityKey::Order(v.to_owned()),
            "ref" => IdentityKey::Reference(v.to_owned()),
            "ig" => IdentityKey::Instagram(v.to_owned()),
            _ => {
                return Err(format!(
                    "unknown identity prefix `{p}`; use v, wa, ph, em, order, ref or ig"
                ))
            }
        };
        key.check()?;
        Ok(key)
    }

    /// Checks the value against its kind's format.
    pub fn check(&self) -> Result<(), String> {
        match self {
            IdentityKey::Visitor(v) | IdentityKey::Order(v) => {
                plain_id(v, MAX_ID_LEN).map_err(|e| format!("{}: {e}", self.prefix()))
            }
            IdentityKey::Whatsapp(v) => check_wa_id(v).map_err(|e| format!("wa: {e}")),
            IdentityKey::Instagram(v) => check_igsid(v).map_err(|e| format!("ig: {e}")),
            IdentityKey::Phone(v) | IdentityKey::Email(v) => {
                if is_sha256_hex(v) {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: must be a SHA-256 digest in lowercase hex",
                        self.prefix()
                    ))
                }
            }
            IdentityKey::Reference(v) => {
                if crate::reference::find_tokens(v).first().map(String::as_str) == Some(v) {
                    Ok(())
                } else {
                    Err("ref: must be a reference token such as tl-3f9a2c1b7d".into())
                }
            }
        }
    }

    fn prefix(&self) -> &'static str {
        match self {
            IdentityKey::Visitor(_) => "v",
            IdentityKey::Whatsapp(_) => "wa",
            IdentityKey::Phone(_) => "ph",
            IdentityKey::Email(_) => "em",
            IdentityKey::Order(_) => "order",
            IdentityKey::Reference(_) => "ref",
            IdentityKey::Instagram(_) => "ig",
        }
    }
}

fn plain_id(v: &str, max: usize) -> Result<(), String> {
    if v.is_empty() || v.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err("may hold only A-Z, a-z, 0-9, '_', '.', '-'".into());
    }
    Ok(())
}

/// Checks a WhatsApp user id: a wa_id (digits) or a business-scoped user id
/// such as `US.0000000000000000001` (letters, digits, '.', '_', '-').
pub fn check_wa_id(v: &str) -> Result<(), String> {
    plain_id(v, MAX_WA_ID_LEN)
}

/// Checks an Instagram-scoped user id (IGSID). Meta's are digits; letters,
/// '.', '_' and '-' are tolerated so a format change does not drop people.
pub fn check_igsid(v: &str) -> Result<(), String> {
    plain_id(v, crate::limits::MAX_IGSID_LEN)
}

/// True for 64 lowercase hex digits.
pub fn is_sha256_hex(v: &str) -> bool {
    v.len() == 64
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of bytes (one implementation, shared with the tracker).
pub use crate::normalize::hex;

/// Fewest digits a phone number with its country code can have.
pub const MIN_PHONE_DIGITS: usize = 7;
/// Most digits an E.164 number can have.
pub const MAX_PHONE_DIGITS: usize = 15;

/// Meta's phone rule (and the tracker's): keep digits only, drop leading
/// zeros; the country code must be included. `None` when what is left cannot
/// be an international number.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS)
        .contains(&digits.len())
        .then(|| digits.to_owned())
}

/// Meta's email rule: trim, lowercase. `None` unless it looks like an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !e.chars().any(char::is_whitespace)).then_some(e)
}

/// The `ph:` key of a raw phone number (or wa_id).
pub fn phone_key(raw: &str) -> Option<IdentityKey> {
    normalize_phone(raw).map(|p| IdentityKey::Phone(sha256_hex(p.as_bytes())))
}

/// The `em:` key of a raw email address.
pub fn email_key(raw: &str) -> Option<IdentityKey> {
    normalize_email(raw).map(|e| IdentityKey::Email(sha256_hex(e.as_bytes())))
}

/// Every key of a WhatsApp user. Since 2026 Meta sends a business-scoped user
/// id (`user_id` / `from_user_id`) and may leave out `wa_id`/`from`; both are
/// kept when present, and the wa_id's phone hash lets identify() match it.
pub fn whatsapp_keys(user_id: Option<&str>, wa_id: Option<&str>) -> Vec<IdentityKey> {
    let mut keys = Vec::new();
    if let Some(u) = user_id.filter(|u| check_wa_id(u).is_ok()) {
        keys.push(IdentityKey::Whatsapp(u.to_owned()));
    }
    if let Some(w) = wa_id.and_then(normalize_phone) {
        keys.push(IdentityKey::Whatsapp(w.clone()));
        keys.push(IdentityKey::Phone(sha256_hex(w.as_bytes())));
    }
    keys
}

/// Length of a profile id: `p`, 12 hex digits of creation time, 16 random.
pub const PROFILE_ID_LEN: usize = 29;

/// A new profile id. Ids sort by creation time, so the smallest is the oldest.
pub fn new_profile_id(now_ms: i64, random: u64) -> String {
    format!(
        "p{:012x}{random:016x}",
        now_ms.max(0) as u64 & 0xffff_ffff_ffff
    )
}

/// True when `s` has the form of a profile id.
pub fn is_profile_id(s: &str) -> bool {
    s.len() == PROFILE_ID_LEN
        && s.starts_with('p')
        && s[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Which profile survives when `profiles` merge: the oldest (smallest id).
/// Every merge picks the same winner whatever order it sees the ids in, so
/// merges never form a cycle and racing merges agree.
pub fn merge_winner<'a>(profiles: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    profiles.into_iter().min()
}

/// What the directory must do so that `keys` all name one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    /// The profile every key ends up in.
    pub profile: String,
    /// True when no key was known and `profile` is new.
    pub created: bool,
    /// Keys to add to the directory (pointing at `profile`).
    pub insert: Vec<String>,
    /// Profiles to merge into `profile`.
    pub merge: Vec<String>,
}

/// Plans a link of `keys`, given the directory rows `known` (key, profile)
/// read for them, and a fresh id to use if none is known. `claims` are keys
/// to record for the profile only where no one holds them (inserted with
/// `ON CONFLICT DO NOTHING`, never read, never a reason to merge).
pub fn plan_link(
    keys: &[String],
    claims: &[String],
    known: &[(String, String)],
    fresh: &str,
) -> LinkPlan {
    let winner = merge_winner(known.iter().map(|(_, p)| p.as_str()));
    let (profile, created) = match winner {
        Some(w) => (w.to_owned(), false),
        None => (fresh.to_owned(), true),
    };
    let mut insert: Vec<String> = keys
        .iter()
        .filter(|k| !known.iter().any(|(kk, _)| kk == *k))
        .chain(claims.iter().filter(|c| !keys.contains(c)))
        .cloned()
        .collect();
    insert.sort();
    insert.dedup();
    let mut merge: Vec<String> = known
        .iter()
        .map(|(_, p)| p.clone())
        .filter(|p| *p != profile)
        .collect();
    merge.sort();
    merge.dedup();
    LinkPlan {
        profile,
        created,
        insert,
        merge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_hash_as_meta_publishes() {
        assert_eq!(
            phone_key("16505551212"),
            Some(IdentityKey::Phone(
                "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176".into()
            ))
        );
        assert_eq!(
            phone_key("+1 (555) 000-1111"),
            Some(IdentityKey::Phone(
                "beac9dfcfadbc799c464ab7a4f175b4a108b05412db10f8ad050c010444cbed9".into()
            ))
        );
        assert_eq!(
            email_key("john_smith@gmail.com"),
            Some(IdentityKey::Email(
                "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f".into()
            ))
        );
        assert_eq!(
            email_key(" Jane.Doe@Example.COM "),
            Some(IdentityKey::Email(
                "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d".into()
            ))
        );
    }

    #[test]
    fn a_phone_typed_on_the_site_and_the_wa_id_give_the_same_key() {
        let wa = whatsapp_keys(None, Some("15550001111"));
        assert!(wa.contains(&phone_key("+1 555-000-1111").expect("phone")));
        assert_eq!(phone_key("0015550001111"), phone_key("15550001111"));
    }

    #[test]
    fn junk_phones_and_emails_yield_no_key() {
        assert_eq!(phone_key("12345"), None);
        assert_eq!(phone_key("call me"), None);
        assert_eq!(phone_key("1234567890123456"), None);
        assert_eq!(email_key("not-an-email"), None);
        assert_eq!(email_key("a b@example.com"), None);
        assert_eq!(email_key("@example.com"), None);
    }

    #[test]
    fn whatsapp_users_are_keyed_by_bsuid_and_wa_id_when_present() {
        let keys = whatsapp_keys(Some("US.0000000000000000001"), Some("15550001111"));
        assert_eq!(
            keys[0],
            IdentityKey::Whatsapp("US.0000000000000000001".into())
        );
        assert_eq!(keys[1], IdentityKey::Whatsapp("15550001111".into()));
        assert!(matches!(keys[2], IdentityKey::Phone(_)));
        let bsuid_only = whatsapp_keys(Some("US.0000000000000000001"), None);
        assert_eq!(bsuid_only.len(), 1);
        assert!(whatsapp_keys(Some("bad id!"), None).is_empty());
    }

    #[test]
    fn keys_round_trip_and_bad_keys_are_named() {
        for k in [
            "v:vabc",
            "wa:US.0000000000000000001",
            "order:ORD-1",
            "ref:tl-3f9a2c1b7d",
            "ig:990000000000001",
            "ph:beac9dfcfadbc799c464ab7a4f175b4a108b05412db10f8ad050c010444cbed9",
        ] {
            assert_eq!(IdentityKey::parse(k).expect(k).as_key(), k);
        }
        assert!(IdentityKey::parse("x:1")
            .expect_err("refused")
            .contains("unknown identity prefix"));
        assert!(IdentityKey::parse("nocolon").is_err());
        assert!(IdentityKey::parse("ph:1234")
            .expect_err("refused")
            .contains("SHA-256"));
        assert!(IdentityKey::parse("ref:tl-xyz").is_err());
        assert!(IdentityKey::parse("v:a b").is_err());
        assert!(IdentityKey::parse("ig:").is_err());
        assert!(IdentityKey::parse("ig:99 01").is_err());
    }

    #[test]
    fn profile_ids_sort_by_age_and_the_oldest_wins_a_merge() {
        let old = new_profile_id(1_000, u64::MAX);
        let new = new_profile_id(2_000, 0);
        assert!(is_profile_id(&old) && is_profile_id(&new));
        assert_eq!(old.len(), PROFILE_ID_LEN);
        assert_eq!(
            merge_winner([new.as_str(), old.as_str()]),
            Some(old.as_str())
        );
        assert_eq!(
            merge_winner([old.as_str(), new.as_str()]),
            Some(old.as_str())
        );
        assert!(!is_profile_id("vabc"));
    }

    #[test]
    fn a_link_of_unknown_keys_creates_one_profile_with_all_of_them() {
        let keys = vec!["v:a".to_string(), "wa:1555000111".to_string()];
        let plan = plan_link(&keys, &[], &[], "pnew");
        assert!(plan.created);
        assert_eq!(plan.profile, "pnew");
        assert_eq!(plan.insert, keys);
        assert!(plan.merge.is_empty());
    }

    #[test]
    fn a_link_across_two_profiles_merges_into_the_oldest_and_adds_the_rest() {
        let keys = vec!["v:a".into(), "wa:1".into(), "ph:x".into()];
        let known = vec![("v:a".into(), "p2".into()), ("wa:1".into(), "p1".into())];
        let plan = plan_link(&keys, &[], &known, "p9");
        assert!(!plan.created);
        assert_eq!(plan.profile, "p1");
        assert_eq!(plan.insert, ["ph:x"]);
        assert_eq!(plan.merge, ["p2"]);
        // Linking again once everything points at p1 changes nothing.
        let known: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), "p1".into())).collect();
        let again = plan_link(&keys, &[], &known, "p9");
        assert!(again.insert.is_empty() && again.merge.is_empty());
    }

    #[test]
    fn claims_are_recorded_but_never_merge() {
        let keys = vec!["v:a".to_string()];
        let claims = vec!["order:ORD-1".to_string()];
        let known = vec![("v:a".to_string(), "p2".to_string())];
        let plan = plan_link(&keys, &claims, &known, "p9");
        assert_eq!(plan.profile, "p2");
        assert_eq!(
            plan.insert,
            ["order:ORD-1"],
            "recorded if free (ON CONFLICT DO NOTHING)"
        );
        assert!(plan.merge.is_empty());
    }
}
