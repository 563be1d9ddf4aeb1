//! `wildcard`: `*` matches any run of characters (none included); `\*` is a literal star and `\\`
//! a literal backslash; any other escape, a trailing backslash and `**` are errors (as in
//! EventBridge, whose matcher would otherwise blow up on repeated stars).

/// A compiled wildcard: literal pieces between stars.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wildcard {
    /// The pattern as written.
    pub source: String,
    /// Literal pieces; there is a star between each two, so a pattern of `n` stars has `n + 1`
    /// pieces (possibly empty at the ends).
    pub pieces: Vec<String>,
}

impl Wildcard {
    /// Compiles the pattern; the error is a reason.
    pub fn parse(source: &str) -> Result<Wildcard, String> {
        let mut pieces = vec![String::new()];
        let mut chars = source.chars();
        let mut last_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if last_star {
                        return Err("consecutive wildcard characters (**) are not allowed".into());
                    }
                    pieces.push(String::new());
                    last_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push(&mut pieces, e),
                    Some(e) => {
                        return Err(format!(
                            "invalid escape \\{e}: only \\* and \\\\ are escapes in a wildcard"
                        ));
                    }
                    None => return Err("a wildcard cannot end with a lone backslash".into()),
                },
                c => push(&mut pieces, c),
            }
            last_star = false;
        }
        Ok(Wildcard {
            source: source.to_string(),
            pieces,
        })
    }

    /// Whether `s` matches: the first piece is a prefix, the last a suffix, and the middle pieces
    /// occur in order in between (leftmost occurrences suffice: stars absorb the rest).
    pub fn matches(&self, s: &str) -> bool {
        let n = self.pieces.len();
        if n == 1 {
            return s == self.pieces[0];
        }
        let first = &self.pieces[0];
        let last = &self.pieces[n - 1];
        if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) {
            return false;
        }
        if !s.ends_with(last.as_str()) {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for piece in &self.pieces[1..n - 1] {
            match rest.find(piece.as_str()) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }

    /// The longest literal piece: a string every match must contain (used to index wildcards).
    pub fn longest_piece(&self) -> &str {
        self.pieces
            .iter()
            .max_by_key(|p| p.len())
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn push(pieces: &mut [String], c: char) {
    if let Some(last) = pieces.last_mut() {
        last.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::Wildcard;

    fn m(p: &str, s: &str) -> bool {
        Wildcard::parse(p).map(|w| w.matches(s)).unwrap_or(false)
    }

    #[test]
    fn stars_escapes_and_errors() {
        assert!(m("a*b", "ab"));
        assert!(m("a*b", "axxb"));
        assert!(!m("a*b", "axxbc"));
        assert!(m("*", ""));
        assert!(m("*a*", "bab"));
        assert!(!m("*a*", "bbb"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\b", r"a\b"));
        assert!(m(r"a\\*", r"a\xyz"));
        assert!(m("*.png", "x.png"));
        assert!(m("a*b*c", "abbc"));
        assert!(!m("a*bc*c", "abc"));
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse(r"a\b").is_err());
        assert!(Wildcard::parse(r"a\").is_err());
    }
}
