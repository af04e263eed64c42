//! Whether the tracker may store or send anything on this page.

#[allow(unused_imports)]
use crate::prelude::*;

/// The inputs of the consent decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Privacy {
    /// The site asks for an explicit `touchline('consent', 'granted')` first.
    pub require_consent: bool,
    /// Honour Do-Not-Track and Global Privacy Control (default on).
    pub honor_signals: bool,
    /// The visitor's recorded choice, if any: `Some(true)` granted.
    pub consent: Option<bool>,
    /// `navigator.doNotTrack == "1"` (or the legacy equivalents).
    pub do_not_track: bool,
    /// `navigator.globalPrivacyControl === true`.
    pub global_privacy_control: bool,
}

impl Privacy {
    /// True when tracking is allowed. A denial always wins; an explicit grant
    /// is the visitor's own opt-in and so outweighs DNT/GPC; without a
    /// choice, the browser's signals and the site's requirement decide.
    pub fn allowed(&self) -> bool {
        match self.consent {
            Some(granted) => granted,
            None => {
                !self.require_consent
                    && !(self.honor_signals && (self.do_not_track || self.global_privacy_control))
            }
        }
    }
}

/// Reads a consent argument: `"granted"`/`"denied"` (also `true`/`false`
/// spelled as text); anything else is no decision.
pub fn parse_consent(v: &str) -> Option<bool> {
    let v = v.trim_ascii();
    if crate::split::one_of(v, "granted,grant,true,yes") {
        Some(true)
    } else if crate::split::one_of(v, "denied,deny,false,no,revoked") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_tracking_is_allowed_unless_the_browser_signals_otherwise() {
        let p = Privacy {
            honor_signals: true,
            ..Privacy::default()
        };
        assert!(p.allowed());
        assert!(!Privacy {
            do_not_track: true,
            ..p
        }
        .allowed());
        assert!(!Privacy {
            global_privacy_control: true,
            ..p
        }
        .allowed());
        let ignoring = Privacy {
            honor_signals: false,
            do_not_track: true,
            ..p
        };
        assert!(ignoring.allowed(), "a site may configure DNT to be ignored");
    }

    #[test]
    fn required_consent_waits_for_a_grant_and_denial_always_wins() {
        let p = Privacy {
            honor_signals: true,
            require_consent: true,
            ..Privacy::default()
        };
        assert!(!p.allowed());
        assert!(Privacy {
            consent: Some(true),
            ..p
        }
        .allowed());
        assert!(!Privacy {
            consent: Some(false),
            require_consent: false,
            ..p
        }
        .allowed());
        assert!(Privacy {
            consent: Some(true),
            do_not_track: true,
            ..p
        }
        .allowed());
    }

    #[test]
    fn consent_arguments_are_read_leniently() {
        assert_eq!(parse_consent("granted"), Some(true));
        assert_eq!(parse_consent(" denied "), Some(false));
        assert_eq!(parse_consent("maybe"), None);
    }
}
