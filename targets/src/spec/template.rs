//! Templates for broker addresses: a NATS subject or an AMQP routing key may name event
//! attributes in braces, `orders.{type}` or `{source}.{subject}`, filled in per event.
//!
//! Only context attributes (extensions included, names `[a-z0-9]{1,20}`), never the data: a
//! routing decision that needs the data belongs in a rule's filter or transform, and attributes
//! are what the bindings carry as headers, so a consumer can see why a message went where it did.
//! Braces have no other meaning: a stray `{` or `}` is refused when the target is saved.

use std::borrow::Cow;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Attribute(String),
}

impl Template {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    pieces.push(Piece::Literal(rest.to_owned()));
                    break;
                }
                Some(i) => {
                    if i > 0 {
                        pieces.push(Piece::Literal(rest[..i].to_owned()));
                    }
                    if rest.as_bytes()[i] == b'}' {
                        return Err(format!(
                            "{text:?} has a '}}' without its '{{'; braces name event attributes, as in \"orders.{{type}}\""
                        ));
                    }
                    let after = &rest[i + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("{text:?} has a '{{' that is never closed"))?;
                    let name = &after[..end];
                    if name.is_empty()
                        || name.len() > 20
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    {
                        return Err(format!(
                            "{text:?}: {{{name}}} is not an attribute name (1 to 20 of a-z, 0-9)"
                        ));
                    }
                    pieces.push(Piece::Attribute(name.to_owned()));
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(Template {
            text: text.to_owned(),
            pieces,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it names no attribute.
    pub fn is_static(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    /// Fills the template in; the error names the attribute the event lacks.
    pub fn render<'v, F>(&self, attribute: F) -> Result<Cow<'_, str>, String>
    where
        F: Fn(&str) -> Option<Cow<'v, str>>,
    {
        if let [Piece::Literal(s)] = self.pieces.as_slice() {
            return Ok(Cow::Borrowed(s));
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Attribute(name) => match attribute(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err(format!(
                            "the event has no attribute {name:?}, which {:?} needs",
                            self.text
                        ));
                    }
                },
            }
        }
        Ok(Cow::Owned(out))
    }

    /// Filled in with a sample value for every attribute, to check what the literal parts allow.
    pub fn sample(&self) -> String {
        self.render(|_| Some(Cow::Borrowed("x")))
            .map(Cow::into_owned)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn fill(t: &Template) -> Result<String, String> {
        t.render(|n| match n {
            "type" => Some(Cow::Borrowed("com.example.created")),
            "subject" => Some(Cow::Borrowed("42")),
            _ => None,
        })
        .map(Cow::into_owned)
    }

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("orders.{type}.{subject}").unwrap();
        assert!(!t.is_static());
        assert_eq!(fill(&t).unwrap(), "orders.com.example.created.42");
        assert_eq!(t.sample(), "orders.x.x");
        let t = Template::parse("plain.subject").unwrap();
        assert!(t.is_static());
        assert_eq!(fill(&t).unwrap(), "plain.subject");
        assert_eq!(Template::parse("").unwrap().sample(), "");
        let err = fill(&Template::parse("a.{source}").unwrap()).unwrap_err();
        assert!(err.contains("\"source\""), "{err}");
    }

    #[test]
    fn refuses_bad_braces() {
        for bad in [
            "a.{type",
            "a.}b",
            "a.{}",
            "a.{Type}",
            "a.{data.x}",
            "{aaaaaaaaaaaaaaaaaaaaa}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
