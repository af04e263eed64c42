//! Sites the collector accepts events for, and the browser origins allowed to
//! send them. Configured on the collector (`SITES` in wrangler.toml).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One site's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Origins (`scheme://host[:port]`) whose pages may send events; `"*"` allows any.
    #[serde(default)]
    pub origins: Vec<String>,
}

/// All configured sites, by site id.
pub type Sites = BTreeMap<String, Site>;

/// Decides whether an event for `site_id`, sent by a page of `origin` (the
/// request's `Origin` header; `None` for server-side senders), is accepted.
pub fn check_origin(sites: &Sites, site_id: &str, origin: Option<&str>) -> Result<(), String> {
    let site = sites
        .get(site_id)
        .ok_or_else(|| format!("site_id: unknown site `{site_id}`"))?;
    match origin {
        None => Ok(()),
        Some(o)
            if site
                .origins
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o)) =>
        {
            Ok(())
        }
        Some(o) => Err(format!(
            "site_id: origin {o} is not allowed to send events for site `{site_id}`"
        )),
    }
}

/// The CORS origin to echo for `origin`: allowed by at least one site.
pub fn cors_origin<'a>(sites: &Sites, origin: &'a str) -> Option<&'a str> {
    sites
        .values()
        .any(|s| {
            s.origins
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
        })
        .then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Sites {
        let mut s = Sites::new();
        s.insert(
            "demo".into(),
            Site {
                origins: vec!["https://shop.example".into()],
            },
        );
        s.insert(
            "open".into(),
            Site {
                origins: vec!["*".into()],
            },
        );
        s
    }

    #[test]
    fn allowed_origin_and_server_side_sends_pass() {
        assert_eq!(
            check_origin(&sites(), "demo", Some("https://shop.example")),
            Ok(())
        );
        assert_eq!(check_origin(&sites(), "demo", None), Ok(()));
        assert_eq!(
            check_origin(&sites(), "open", Some("https://any.example")),
            Ok(())
        );
    }

    #[test]
    fn unknown_site_and_foreign_origin_are_refused_with_reasons() {
        let e = check_origin(&sites(), "nope", None).expect_err("unknown site");
        assert_eq!(e, "site_id: unknown site `nope`");
        let e = check_origin(&sites(), "demo", Some("https://evil.example"))
            .expect_err("foreign origin");
        assert!(
            e.contains("origin https://evil.example is not allowed"),
            "{e}"
        );
    }

    #[test]
    fn cors_echoes_only_configured_origins() {
        let mut s = sites();
        s.remove("open");
        assert_eq!(
            cors_origin(&s, "https://shop.example"),
            Some("https://shop.example")
        );
        assert_eq!(cors_origin(&s, "https://evil.example"), None);
    }
}
