//! `{"kind": "template", "paths": {"name": "$.path", …}, "template": "…"}`: EventBridge's input
//! transformer (`InputPathsMap` + `InputTemplate`), so that existing transformers move over
//! unchanged.
//!
//! ```json
//! {"kind": "template",
//!  "paths": {"instance": "$.data.instance-id", "state": "$.data.state"},
//!  "template": "{\"instance\": <instance>, \"status\": \"instance <instance> is <state>\"}"}
//! ```
//!
//! Rules, each from the EventBridge user guide ("Amazon EventBridge input transformation") or
//! API reference (`InputTransformer`) unless marked as Railyard's:
//!
//! - **Paths**: at most 100; names are `A-Z a-z 0-9 _ -` and may not start with `AWS`; each
//!   value is a JSONPath (see [`crate::jsonpath`], EventBridge's dotted names with dashes
//!   included), compiled when the rule is saved. Railyard: names are at most 256 characters.
//! - **Placeholders**: `<name>` names a path or a predefined variable (see `vars.rs`). A
//!   placeholder naming neither is an error when the rule is saved, as EventBridge rejects it at
//!   `PutTargets` ("InputTemplate … contains invalid placeholder"). Paths the template does not
//!   use are allowed.
//! - **JSON or text**: a template that is valid JSON with its placeholders standing for values
//!   is JSON; anything else is text (see `scan.rs`). The user guide's examples show both,
//!   including a lone quoted string (`"instance <instance> is in <state>"`), which is JSON and
//!   keeps its quotes in the output. A placeholder cannot be an object key (API reference).
//! - **Escaping** (see `render.rs`): in a JSON template a placeholder outside quotes is replaced
//!   by the value as JSON (`"i-0123"`, `5`, `true`, an object as is); inside quotes it is
//!   replaced by the value's string content, JSON-escaped, so that quotes, backslashes and
//!   newlines in event data cannot break the output. EventBridge's guide says it does *not*
//!   escape extracted values, which turns such values into invalid JSON; Railyard escapes
//!   (values without those characters come out identical). A text template gets values
//!   unquoted and unescaped. JSON output is minified, as EventBridge's is.
//! - **A path that selects nothing**: EventBridge's guide says the variable "isn't created";
//!   what EventBridge sends then was recorded against AWS by LocalStack's
//!   `test_events_inputs` snapshots: nothing in a text template or inside quotes, and `""` for
//!   a placeholder outside quotes in a JSON template. Railyard does the same.
//! - **Several nodes** (a wildcard or filter path): an array of them, like the `jsonpath` kind.
//!
//! Speed: the template is read once into literal pieces and placeholder slots (with their
//! escaping), paths are compiled once and simple ones are walked without jsonpath-rust; applying
//! evaluates each used path once and concatenates into one buffer.

pub(crate) mod render;
pub(crate) mod scan;
pub(crate) mod vars;

use serde_json::{Map, Value};

use super::{Context, Output, TransformError, members};
use crate::jsonpath::{JsonPath, Nodes};
use crate::pattern::escape_pointer;
use render::Val;
use scan::{Escape, Piece};
use vars::Predefined;

/// Most named paths (EventBridge's limit).
pub const MAX_PATHS: usize = 100;
/// Longest path name, in characters (Railyard's limit).
pub const MAX_NAME_CHARS: usize = 256;
/// Longest template, in characters (EventBridge's `InputTemplate` limit).
pub const MAX_TEMPLATE_CHARS: usize = 8192;

/// A compiled input template.
#[derive(Debug, Clone)]
pub struct Template {
    json: bool,
    segments: Vec<Segment>,
    paths: Vec<(String, JsonPath)>,
    /// Indices into `paths` of the paths some placeholder uses.
    used: Vec<usize>,
    /// Literal bytes plus a guess per placeholder: the output buffer's first capacity.
    capacity: usize,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(Box<str>),
    Slot(Source, Escape),
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Path(usize),
    Var(Predefined),
}

impl Template {
    pub(super) fn parse(map: &Map<String, Value>) -> Result<Template, TransformError> {
        members::only(map, "template", &["kind", "paths", "template"])?;
        let paths = match map.get("paths") {
            None => Vec::new(),
            Some(Value::Object(paths)) => compile_paths(paths)?,
            Some(_) => {
                return Err(TransformError::new(
                    "/paths",
                    "\"paths\" is an object of names to JSONPaths, as in {\"id\": \"$.data.id\"}",
                ));
            }
        };
        let template = match members::required(
            map,
            "template",
            "template",
            "{\"kind\": \"template\", \"paths\": {\"id\": \"$.data.id\"}, \"template\": \"order <id>\"}",
        )? {
            Value::String(t) => t.as_str(),
            _ => {
                return Err(TransformError::new(
                    "/template",
                    "\"template\" is a string; a JSON template is written as a string too, as in \
                     \"{\\\"id\\\": <id>}\"",
                ));
            }
        };
        Template::compile(template, paths)
    }

    fn compile(template: &str, paths: Vec<(String, JsonPath)>) -> Result<Template, TransformError> {
        if template.is_empty() {
            return Err(TransformError::new("/template", "the template is empty"));
        }
        let chars = template.chars().count();
        if chars > MAX_TEMPLATE_CHARS {
            return Err(TransformError::new(
                "/template",
                format!("the template has {chars} characters; at most {MAX_TEMPLATE_CHARS}"),
            ));
        }
        let scanned = scan::scan(template).map_err(|e| TransformError {
            pointer: "/template".to_string(),
            reason: format!("line {}, column {}: {}", e.at.0, e.at.1, e.reason),
            source: e.source.map(|s| std::sync::Arc::new(s) as _),
        })?;
        let mut segments = Vec::with_capacity(scanned.pieces.len());
        let mut used = Vec::new();
        let mut capacity = 0;
        for piece in scanned.pieces {
            match piece {
                Piece::Literal(text) => {
                    capacity += text.len();
                    segments.push(Segment::Literal(text.into_boxed_str()));
                }
                Piece::Placeholder { name, at, escape } => {
                    capacity += 24;
                    let source = resolve(name, at, &paths)?;
                    if let Source::Path(i) = source
                        && !used.contains(&i)
                    {
                        used.push(i);
                    }
                    segments.push(Segment::Slot(source, escape));
                }
            }
        }
        Ok(Template {
            json: scanned.json,
            segments,
            paths,
            used,
            capacity,
        })
    }

    /// Whether the template is JSON (its output is [`Output::JsonText`]) rather than text.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Renders the template for one event.
    pub fn apply(&self, event: &Value, ctx: &Context<'_>) -> Result<Output, TransformError> {
        let mut selected: Vec<Nodes<'_>> = vec![Nodes::Nothing; self.paths.len()];
        for &i in &self.used {
            if let (Some(slot), Some((_, path))) = (selected.get_mut(i), self.paths.get(i)) {
                *slot = path.select(event);
            }
        }
        let mut out = Vec::with_capacity(self.capacity);
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.extend_from_slice(text.as_bytes()),
                Segment::Slot(source, escape) => {
                    let val = match source {
                        Source::Path(i) => match selected.get(*i) {
                            Some(Nodes::One(v)) => Val::Node(v),
                            Some(Nodes::Many(vs)) => Val::Many(vs),
                            Some(Nodes::Nothing) | None => Val::Missing,
                        },
                        Source::Var(Predefined::RuleName) => Val::Str(ctx.rule_name),
                        Source::Var(Predefined::IngestionTime) => Val::Str(ctx.ingestion_time),
                        Source::Var(Predefined::Event) => Val::Attributes(event),
                        Source::Var(Predefined::EventJson) => Val::Node(event),
                    };
                    render::write(&mut out, val, *escape)?;
                }
            }
        }
        let text = String::from_utf8(out).map_err(|e| TransformError {
            pointer: "/template".to_string(),
            reason: format!("rendered text is not UTF-8: {e}"),
            source: Some(std::sync::Arc::new(e)),
        })?;
        Ok(if self.json {
            Output::JsonText(text)
        } else {
            Output::Text(text)
        })
    }
}

fn compile_paths(paths: &Map<String, Value>) -> Result<Vec<(String, JsonPath)>, TransformError> {
    if paths.len() > MAX_PATHS {
        return Err(TransformError::new(
            "/paths",
            format!("{} paths; a template has at most {MAX_PATHS}", paths.len()),
        ));
    }
    let mut compiled = Vec::with_capacity(paths.len());
    for (name, path) in paths {
        let pointer = format!("/paths/{}", escape_pointer(name));
        check_name(name).map_err(|reason| TransformError::new(&pointer, reason))?;
        let path = JsonPath::parse_value(path).map_err(|e| TransformError::path(&pointer, e))?;
        compiled.push((name.clone(), path));
    }
    Ok(compiled)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a path name is not empty".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(format!(
            "path name {name:?} has {bad:?}; names are made of A-Z, a-z, 0-9, _ and -"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "path name {name:?} is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.starts_with("AWS") {
        return Err(format!(
            "path name {name:?} starts with \"AWS\", which EventBridge reserves"
        ));
    }
    Ok(())
}

fn resolve(
    name: &str,
    at: (usize, usize),
    paths: &[(String, JsonPath)],
) -> Result<Source, TransformError> {
    if let Some(i) = paths.iter().position(|(n, _)| n == name) {
        return Ok(Source::Path(i));
    }
    let (line, column) = at;
    match vars::lookup(name) {
        Some(Ok(var)) => Ok(Source::Var(var)),
        Some(Err(reason)) => Err(TransformError::new(
            "/template",
            format!("line {line}, column {column}: <{name}>: {reason}"),
        )),
        None => {
            let defined: Vec<&str> = paths.iter().map(|(n, _)| n.as_str()).collect();
            let defined = if defined.is_empty() {
                "no paths are defined".to_string()
            } else {
                format!("the paths are: {}", defined.join(", "))
            };
            Err(TransformError::new(
                "/template",
                format!(
                    "line {line}, column {column}: undefined placeholder <{name}>: it names no \
                     path and no predefined variable ({defined}; the predefined variables are {})",
                    vars::NAMES
                ),
            ))
        }
    }
}
