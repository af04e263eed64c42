//! Visitor sessions: a session ends after 30 minutes without activity.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::limits::SESSION_TIMEOUT_MS;

/// A session as the tracker keeps it between page loads.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Time of the last activity, ms since the epoch.
    pub last_activity: f64,
}

impl Session {
    /// Reads the stored form `"<id>.<last_activity>"`; `None` when unreadable.
    pub fn parse(stored: &str) -> Option<Session> {
        // A byte scan: `rsplit_once` pulls a char searcher into the wasm.
        let dot = stored.bytes().rposition(|b| b == b'.')?;
        let (id, last) = (stored.get(..dot)?, stored.get(dot + 1..)?);
        // Integer parsing: float parsing would add kilobytes to the wasm.
        let last_activity = crate::json::parse_i64(last)? as f64;
        (!id.is_empty()).then(|| Session {
            id: id.to_owned(),
            last_activity,
        })
    }

    /// The stored form, read back by [`Session::parse`].
    pub fn store(&self) -> String {
        let mut s = self.id.clone();
        s.push('.');
        // Whole milliseconds; integer formatting keeps float code out of the wasm.
        crate::json::push_i64(&mut s, self.last_activity as i64);
        s
    }

    /// The session to use for activity at `now`: the same one while it is
    /// live (its clock moved on), else a new one with `fresh_id`. A clock that
    /// went backwards keeps the session.
    pub fn touch(prev: Option<Session>, now: f64, fresh_id: impl FnOnce() -> String) -> Session {
        match prev {
            Some(s) if now - s.last_activity <= SESSION_TIMEOUT_MS => Session {
                id: s.id,
                // A comparison rather than `f64::max`, a libm call in the
                // wasm tracker (neither is NaN here).
                last_activity: if now < s.last_activity {
                    s.last_activity
                } else {
                    now
                },
            },
            _ => Session {
                id: fresh_id(),
                last_activity: now,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;

    #[test]
    fn activity_within_thirty_minutes_keeps_the_session() {
        let s = Session::touch(None, 1_000.0, || "a".into());
        let s = Session::touch(Some(s), 1_000.0 + 29.0 * MIN, || "b".into());
        assert_eq!(s.id, "a");
        let s = Session::touch(Some(s), 1_000.0 + 58.0 * MIN, || "c".into());
        assert_eq!(s.id, "a", "the window slides with activity");
    }

    #[test]
    fn a_clock_that_went_backwards_keeps_the_later_time() {
        let s = Session::touch(None, 5.0 * MIN, || "a".into());
        let s = Session::touch(Some(s), 2.0 * MIN, || "b".into());
        assert_eq!((s.id.as_str(), s.last_activity), ("a", 5.0 * MIN));
        let s = Session::touch(Some(s), 6.0 * MIN, || "c".into());
        assert_eq!((s.id.as_str(), s.last_activity), ("a", 6.0 * MIN));
        let s = Session::touch(Some(s), f64::NAN, || "d".into());
        assert_eq!(s.id, "d");
    }

    #[test]
    fn thirty_minutes_of_inactivity_starts_a_new_session() {
        let s = Session::touch(None, 0.0, || "a".into());
        let s = Session::touch(Some(s), 31.0 * MIN, || "b".into());
        assert_eq!(
            s,
            Session {
                id: "b".into(),
                last_activity: 31.0 * MIN
            }
        );
    }

    #[test]
    fn stored_form_round_trips_and_garbage_is_ignored() {
        let s = Session {
            id: "s_ab.cd".into(),
            last_activity: 1_764_052_320_000.0,
        };
        assert_eq!(Session::parse(&s.store()), Some(s));
        for bad in ["", "nodot", ".123", "abc.", "abc.xyz", "abc.NaN"] {
            assert_eq!(Session::parse(bad), None, "{bad}");
        }
    }
}
