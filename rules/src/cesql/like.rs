//! `LIKE` patterns, compiled once (spec 3.4.3).
//!
//! `%` is any run of characters, `_` exactly one character, `\%` and `\_` the characters
//! themselves; a backslash before anything else is a literal backslash (as in the Go SDK, whose
//! matcher only treats `\` as an escape before `%` and `_`). Everything else matches itself, case
//! sensitively. Characters are Unicode scalar values: `_` matches `é` (the Go SDK matches bytes,
//! which the spec's "a single character" does not mean).
//!
//! The common shapes (`abc`, `abc%`, `%abc`, `%abc%`, `%`) compile to a string comparison, so
//! prefix and suffix filters cost one `starts_with`/`ends_with`. Other patterns run a
//! backtracking matcher with one resumption point per `%`, linear in practice and at worst
//! O(text × pattern).

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LikePattern {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    Any,
    General(Box<[Elem]>),
}

/// One element of a general pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    Char(char),
    One,
    Many,
}

impl LikePattern {
    /// Compiles the pattern text (already unescaped as a string literal).
    pub(crate) fn compile(pattern: &str) -> LikePattern {
        let mut elems = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&e @ ('%' | '_')) => {
                        chars.next();
                        elems.push(Elem::Char(e));
                    }
                    _ => elems.push(Elem::Char('\\')),
                },
                '%' => {
                    // Consecutive `%` mean the same as one.
                    if elems.last() != Some(&Elem::Many) {
                        elems.push(Elem::Many);
                    }
                }
                '_' => elems.push(Elem::One),
                c => elems.push(Elem::Char(c)),
            }
        }
        Self::classify(elems)
    }

    /// Compiles a SQL `LIKE` pattern: `%` and `_` are wildcards, and only the `ESCAPE` character
    /// (if any) escapes: before `%`, `_` or itself it stands for that character. A backslash is
    /// an ordinary character, as in standard SQL. An escape character before anything else, or
    /// at the end, is an error (SQL's "invalid escape sequence"), given as its character offset.
    pub(crate) fn compile_sql(pattern: &str, escape: Option<char>) -> Result<LikePattern, usize> {
        let mut elems = Vec::new();
        let mut chars = pattern.chars().enumerate();
        while let Some((i, c)) = chars.next() {
            if Some(c) == escape {
                match chars.next() {
                    Some((_, e)) if e == '%' || e == '_' || Some(e) == escape => {
                        elems.push(Elem::Char(e));
                    }
                    _ => return Err(i),
                }
                continue;
            }
            match c {
                '%' if elems.last() == Some(&Elem::Many) => {}
                '%' => elems.push(Elem::Many),
                '_' => elems.push(Elem::One),
                c => elems.push(Elem::Char(c)),
            }
        }
        Ok(Self::classify(elems))
    }

    fn classify(elems: Vec<Elem>) -> LikePattern {
        let literal = |es: &[Elem]| -> Option<Box<str>> {
            es.iter()
                .map(|e| match e {
                    Elem::Char(c) => Some(*c),
                    _ => None,
                })
                .collect::<Option<String>>()
                .map(String::into_boxed_str)
        };
        let n = elems.len();
        let starts_many = elems.first() == Some(&Elem::Many);
        let ends_many = n > 0 && elems[n - 1] == Elem::Many;
        if n == 1 && starts_many {
            return LikePattern::Any;
        }
        let inner = match (starts_many, ends_many) {
            (true, true) => &elems[1..n - 1],
            (true, false) => &elems[1..],
            (false, true) => &elems[..n - 1],
            (false, false) => &elems[..],
        };
        match (literal(inner), starts_many, ends_many) {
            (Some(s), false, false) => LikePattern::Exact(s),
            (Some(s), false, true) => LikePattern::Prefix(s),
            (Some(s), true, false) => LikePattern::Suffix(s),
            (Some(s), true, true) => LikePattern::Contains(s),
            (None, _, _) => LikePattern::General(elems.into_boxed_slice()),
        }
    }

    /// Whether `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            LikePattern::Exact(s) => text == &**s,
            LikePattern::Prefix(s) => text.starts_with(&**s),
            LikePattern::Suffix(s) => text.ends_with(&**s),
            LikePattern::Contains(s) => text.contains(&**s),
            LikePattern::Any => true,
            LikePattern::General(elems) => matches_general(elems, text),
        }
    }
}

/// Wildcard matching with backtracking to the last `%`: when a character does not match, the last
/// `%` seen absorbs one more character and matching resumes after it. Earlier `%` never need to
/// absorb more (the classic argument for glob matching with `*` and `?`).
fn matches_general(elems: &[Elem], text: &str) -> bool {
    let (mut ti, mut pi) = (0usize, 0usize);
    // (pattern index after the last `%`, text index where its absorbed run ends)
    let mut resume: Option<(usize, usize)> = None;
    while ti < text.len() {
        let Some(c) = text[ti..].chars().next() else {
            break;
        };
        match elems.get(pi) {
            Some(Elem::Char(p)) if *p == c => {
                ti += c.len_utf8();
                pi += 1;
                continue;
            }
            Some(Elem::One) => {
                ti += c.len_utf8();
                pi += 1;
                continue;
            }
            Some(Elem::Many) => {
                pi += 1;
                resume = Some((pi, ti));
                continue;
            }
            _ => {}
        }
        let Some((rp, rt)) = resume else {
            return false;
        };
        let skipped = text[rt..].chars().next().map_or(1, char::len_utf8);
        resume = Some((rp, rt + skipped));
        pi = rp;
        ti = rt + skipped;
    }
    elems[pi.min(elems.len())..]
        .iter()
        .all(|e| *e == Elem::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::compile(pattern).matches(text)
    }

    #[test]
    fn shapes_compile_to_string_comparisons() {
        assert_eq!(
            LikePattern::compile("abc"),
            LikePattern::Exact("abc".into())
        );
        assert_eq!(
            LikePattern::compile("ab%"),
            LikePattern::Prefix("ab".into())
        );
        assert_eq!(
            LikePattern::compile("%ab"),
            LikePattern::Suffix("ab".into())
        );
        assert_eq!(
            LikePattern::compile("%ab%"),
            LikePattern::Contains("ab".into())
        );
        assert_eq!(LikePattern::compile("%%"), LikePattern::Any);
        assert_eq!(
            LikePattern::compile("a\\%%"),
            LikePattern::Prefix("a%".into())
        );
        assert_eq!(LikePattern::compile(""), LikePattern::Exact("".into()));
    }

    #[test]
    fn wildcards_escapes_and_characters() {
        assert!(like("abc", "a_c"));
        assert!(like("aéc", "a_c"), "_ is one character, not one byte");
        assert!(!like("ac", "a_c"));
        assert!(like("axxbyyc", "a%b%c"));
        assert!(like("abcbc", "%bc"));
        assert!(like("mississippi", "%iss%ppi"));
        assert!(!like("mississippi", "%iss%ppx"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(
            like("a\\c", "a\\c"),
            "a backslash before another character is itself"
        );
        assert!(
            like("a\\%", "a\\\\%"),
            "\\\\% is a backslash, then an escaped %"
        );
        assert!(!like("a\\x", "a\\\\%"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("x_y", "x\\_y"));
        assert!(!like("xzy", "x\\_y"));
        assert!(like("trailing\\", "trailing\\"));
    }
}
