//! What every list shares: `limit` and `cursor` (the last name of the previous page), and the
//! filters `prefix` (names starting with it) and, for rules, `enabled` (true or false).
//!
//! Filters apply before the page is cut, so a page holds `limit` matching items whenever that
//! many exist after the cursor, and `next_cursor` is null only at the real end.

use std::collections::HashMap;

use super::problem::{ApiError, page_limit};

/// A list request's parameters.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: usize,
    pub cursor: String,
    pub prefix: String,
    pub enabled: Option<bool>,
}

impl ListQuery {
    /// Reads `limit`, `cursor`, `prefix` and (where `with_enabled`) `enabled`; any other
    /// parameter is a 400 naming it.
    pub fn parse(q: &HashMap<String, String>, with_enabled: bool) -> Result<ListQuery, ApiError> {
        let known: &[&str] = if with_enabled {
            &["limit", "cursor", "prefix", "enabled"]
        } else {
            &["limit", "cursor", "prefix"]
        };
        if let Some(k) = q.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!(
                    "query parameter {k:?} is not known here; the parameters are {}",
                    known.join(", ")
                ),
            )
            .with_error(format!("/{k}"), "unknown query parameter"));
        }
        let enabled = match q.get("enabled").map(String::as_str) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(v) => {
                return Err(ApiError::bad_request(
                    "invalid-query",
                    format!("query parameter enabled: {v:?} is not true or false"),
                )
                .with_error("/enabled", "must be true or false"));
            }
        };
        Ok(ListQuery {
            limit: page_limit(q)?,
            cursor: q.get("cursor").cloned().unwrap_or_default(),
            prefix: q.get("prefix").cloned().unwrap_or_default(),
            enabled,
        })
    }

    /// Pages through `fetch(after, n)` (items sorted by name, after the name `after`) keeping
    /// those `keep` accepts whose name has the prefix, until `limit + 1` are kept or the source
    /// ends. Returns the page and whether more follow.
    pub fn page<T, E>(
        &self,
        mut fetch: impl FnMut(&str, usize) -> Result<Vec<T>, E>,
        name: impl Fn(&T) -> &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, bool), E> {
        let mut out = Vec::new();
        let mut after = self.cursor.clone();
        let chunk = (self.limit + 1).max(100);
        loop {
            let got = fetch(&after, chunk)?;
            let n = got.len();
            for item in got {
                after = name(&item).to_owned();
                if name(&item).starts_with(&self.prefix) && keep(&item) {
                    out.push(item);
                    if out.len() > self.limit {
                        out.truncate(self.limit);
                        return Ok((out, true));
                    }
                }
            }
            if n < chunk {
                return Ok((out, false));
            }
        }
    }
}
