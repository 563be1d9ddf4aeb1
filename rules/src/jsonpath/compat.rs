//! EventBridge's dotted paths, read as RFC 9535 bracket notation.
//!
//! EventBridge documents its JSONPath subset as dot notation with alphanumeric characters,
//! dashes, underscores and forward slashes, array indices and wildcards
//! (`$.detail.instance-id`, `$.detail-type`, `$.resources[0]`, `$.detail.*`). RFC 9535's
//! member-name shorthand allows neither dashes nor slashes nor a leading digit, so such paths
//! would fail to compile and existing input transformers would break. [`bracketed`] rewrites a
//! path of exactly that shape into bracket notation; it is only consulted after the RFC parser
//! has rejected the path, so a path valid under RFC 9535 always keeps its RFC meaning.

/// `$.detail.instance-id[0].*` → `$['detail']['instance-id'][0][*]`, or `None` when the path
/// is not an EventBridge dotted path.
pub(super) fn bracketed(path: &str) -> Option<String> {
    let rest = path.strip_prefix('$')?;
    let mut out = String::with_capacity(path.len() + 8);
    out.push('$');
    let mut chars = rest.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&(_, n)) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if name == "*" {
                    out.push_str("[*]");
                } else if !name.is_empty() && name.chars().all(is_name_char) {
                    out.push_str("['");
                    out.push_str(&name);
                    out.push_str("']");
                } else {
                    return None;
                }
            }
            '[' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((_, n)) => inner.push(n),
                        None => return None,
                    }
                }
                let index = inner.strip_prefix('-').unwrap_or(&inner);
                let is_index = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
                if inner != "*" && !is_index {
                    return None;
                }
                out.push('[');
                out.push_str(&inner);
                out.push(']');
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Characters EventBridge allows in a dotted name, plus the non-ASCII letters RFC 9535 allows.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/') || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::bracketed;

    #[test]
    fn eventbridge_dotted_paths_become_brackets() {
        assert_eq!(
            bracketed("$.detail.instance-id").as_deref(),
            Some("$['detail']['instance-id']")
        );
        assert_eq!(
            bracketed("$.detail-type").as_deref(),
            Some("$['detail-type']")
        );
        assert_eq!(
            bracketed("$.resources[0].a/b.*").as_deref(),
            Some("$['resources'][0]['a/b'][*]")
        );
        assert_eq!(bracketed("$.a[-1]").as_deref(), Some("$['a'][-1]"));
    }

    #[test]
    fn other_shapes_are_left_alone() {
        for p in [
            "detail.x",
            "$.a b",
            "$.a['b']",
            "$..a",
            "$.a[?@.b]",
            "$.a[",
            "$.",
            "$.a'b",
            "$.a[1:2]",
        ] {
            assert_eq!(bracketed(p), None, "{p}");
        }
    }
}
