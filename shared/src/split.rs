//! Splitting text at an ASCII separator by scanning bytes.
//!
//! `str::split`, `split_once` and `contains` with a `char` pattern bring
//! core's searcher (a word-at-a-time `memchr` and its panic paths) into the
//! wasm tracker: over a kilobyte for what a byte scan does in a few dozen
//! bytes. An ASCII byte never occurs inside a multi-byte character, so every
//! cut is on a character boundary and `str::get` never fails here.

/// The parts of `s` between occurrences of `sep` (an ASCII byte), as
/// `s.split(sep as char)` gives them.
pub fn split(s: &str, sep: u8) -> Split<'_> {
    Split { rest: Some(s), sep }
}

/// The iterator of [`split`]: a named type with a plain `next` rather than
/// `iter::from_fn`, whose generic `next` the wasm tracker would get one copy
/// of per crate that calls it.
pub struct Split<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        match find(r, self.sep) {
            Some(i) => {
                self.rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                self.rest = None;
                Some(r)
            }
        }
    }
}

/// `s` cut at the first `sep` (an ASCII byte), without it, as
/// `s.split_once(sep as char)` gives it.
pub fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    // The first part and what `split` has left after the separator (none
    // when there was no separator): one cutting code for both.
    let mut parts = split(s, sep);
    let first = parts.next()?;
    Some((first, parts.rest?))
}

/// True when `s` is one of the comma-separated `words` (one loop instead of
/// a comparison per word: less code in the wasm tracker).
pub fn one_of(s: &str, words: &str) -> bool {
    for w in split(words, b',') {
        if *w == *s {
            return true;
        }
    }
    false
}

/// True when `s` holds the ASCII byte `b`.
pub fn has(s: &str, b: u8) -> bool {
    find(s, b).is_some()
}

/// Where the first `b` is in `s` (a plain loop: `position` is more code).
fn find(s: &str, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn the_same_parts_as_str_split() {
        for s in ["", ",", "a", "a,b", ",a,,b,", "é,ü,,✓", "no separator"] {
            assert_eq!(
                split(s, b',').collect::<Vec<_>>(),
                s.split(',').collect::<Vec<_>>(),
                "{s:?}"
            );
            assert_eq!(split_once(s, b','), s.split_once(','), "{s:?}");
            assert_eq!(has(s, b','), s.contains(','), "{s:?}");
        }
    }

    #[test]
    fn words_are_matched_whole() {
        assert!(one_of("wa", "whatsapp,wa"));
        assert!(one_of("whatsapp", "whatsapp,wa"));
        assert!(!one_of("w", "whatsapp,wa"));
        assert!(!one_of("whatsapp,wa", "whatsapp,wa"));
        assert!(!one_of("", "a,b"));
    }
}
