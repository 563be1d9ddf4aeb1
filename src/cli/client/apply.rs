//! `railyard apply -f resources.yaml [--dry-run] [--prune]`: make the server's buses, connections
//! and rules what a file declares, through the API.
//!
//! The file holds YAML (or JSON) documents, one resource each:
//!
//! ```yaml
//! kind: bus
//! name: orders
//! spec: {description: Orders, retention: {max_age: 7d}}
//! ---
//! kind: connection
//! name: shop-api
//! spec: {api_key: {header: x-api-key, value: s3cret}}
//! ---
//! kind: rule
//! bus: orders
//! name: big
//! spec: {filter: {pattern: {type: [com.example.created]}}, targets: []}
//! ```
//!
//! Each declared resource is compared with the server's (its writable fields, defaults filled
//! in) and written only if it differs; `--dry-run` prints the plan (`+` create, `~` change with
//! each differing JSON pointer, `-` delete) and writes nothing. `--prune` also deletes the buses
//! (never `default`), connections and rules the file does not declare. Order: buses, connections,
//! rules; deletions the other way round. Connection secrets cannot be read back, so a connection
//! whose only change is a secret is not seen as changed (re-apply it with `connections put`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::render::yaml_to_json;
use super::{Client, read_doc};

/// Arguments of `railyard apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The resources (YAML documents separated by ---, or a JSON array)
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Print what would change; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Also delete what the file does not declare
    #[arg(long)]
    prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bus,
    Connection,
    Rule,
}

#[derive(Debug, Clone)]
struct Resource {
    kind: Kind,
    bus: String,
    name: String,
    spec: Value,
}

impl Resource {
    fn path(&self) -> String {
        match self.kind {
            Kind::Bus => format!("/v1/buses/{}", self.name),
            Kind::Connection => format!("/v1/connections/{}", self.name),
            Kind::Rule => format!("/v1/buses/{}/rules/{}", self.bus, self.name),
        }
    }

    fn label(&self) -> String {
        match self.kind {
            Kind::Bus => format!("bus {}", self.name),
            Kind::Connection => format!("connection {}", self.name),
            Kind::Rule => format!("rule {}/{}", self.bus, self.name),
        }
    }
}

fn documents(args: &ApplyArgs) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(&text) {
        return Ok(a);
    }
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return Ok(vec![v]);
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .with_context(|| format!("{} is neither JSON nor YAML", args.file.display()))?;
    docs.iter()
        .filter(|d| !d.is_null())
        .map(yaml_to_json)
        .collect()
}

fn parse(doc: &Value, i: usize) -> anyhow::Result<Resource> {
    let at = |m: &str| format!("document {i}: {m}");
    let Value::Object(m) = doc else {
        bail!(at("a resource is a mapping with kind, name and spec"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "kind" | "name" | "bus" | "spec"))
    {
        bail!(at(&format!("unknown member {k:?} (kind, name, bus, spec)")));
    }
    let kind = match m.get("kind").and_then(Value::as_str) {
        Some("bus") => Kind::Bus,
        Some("connection") => Kind::Connection,
        Some("rule") => Kind::Rule,
        other => bail!(at(&format!(
            "kind {other:?} is not bus, connection or rule"
        ))),
    };
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!(at("name is required")))?
        .to_owned();
    let bus = match (kind, m.get("bus").and_then(Value::as_str)) {
        (Kind::Rule, Some(b)) => b.to_owned(),
        (Kind::Rule, None) => "default".to_owned(),
        (_, Some(_)) => bail!(at("only rules have a bus")),
        (_, None) => String::new(),
    };
    let spec = m.get("spec").cloned().unwrap_or_else(|| json!({}));
    Ok(Resource {
        kind,
        bus,
        name,
        spec: normalize(kind, &spec),
    })
}

/// The writable fields of a resource, defaults filled in, secrets left out: what is compared.
fn normalize(kind: Kind, v: &Value) -> Value {
    let get = |k: &str| v.get(k).cloned();
    match kind {
        Kind::Bus => json!({
            "description": get("description").unwrap_or(json!("")),
            "retention": get("retention").unwrap_or(json!({})),
        }),
        Kind::Rule => json!({
            "description": get("description").unwrap_or(json!("")),
            "enabled": get("enabled").unwrap_or(json!(true)),
            "filter": get("filter").unwrap_or(Value::Null),
            "targets": get("targets").unwrap_or(json!([])),
        }),
        Kind::Connection => {
            let mut out = Map::new();
            out.insert(
                "description".into(),
                get("description").unwrap_or(json!("")),
            );
            for (auth, secret) in [
                ("basic", "password"),
                ("api_key", "value"),
                ("oauth_client_credentials", "client_secret"),
            ] {
                if let Some(Value::Object(a)) = v.get(auth) {
                    let mut a = a.clone();
                    a.remove(secret);
                    if auth == "oauth_client_credentials" {
                        a.entry("scopes").or_insert(json!([]));
                        a.entry("params").or_insert(json!({}));
                    }
                    out.insert(auth.into(), Value::Object(a));
                }
            }
            Value::Object(out)
        }
    }
}

/// The JSON pointers where `a` and `b` differ, with both values.
fn diff(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{at}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff(u, v, &p, out),
                    (Some(u), None) => out.push(format!("{p}: {u} → (absent)")),
                    (None, Some(v)) => out.push(format!("{p}: (absent) → {v}")),
                    (None, None) => {}
                }
            }
        }
        _ if a != b => out.push(format!(
            "{}: {a} → {b}",
            if at.is_empty() { "/" } else { at }
        )),
        _ => {}
    }
}

async fn current(
    c: &Client,
    kinds: &[Kind],
) -> anyhow::Result<BTreeMap<(Kind, String, String), Value>> {
    let mut out = BTreeMap::new();
    let buses = c.list_all("/v1/buses", "buses").await?;
    for b in &buses {
        let name = b["name"].as_str().unwrap_or_default().to_owned();
        if kinds.contains(&Kind::Bus) {
            out.insert(
                (Kind::Bus, String::new(), name.clone()),
                normalize(Kind::Bus, b),
            );
        }
        if kinds.contains(&Kind::Rule) {
            for r in c
                .list_all(&format!("/v1/buses/{name}/rules"), "rules")
                .await?
            {
                let rn = r["name"].as_str().unwrap_or_default().to_owned();
                out.insert((Kind::Rule, name.clone(), rn), normalize(Kind::Rule, &r));
            }
        }
    }
    if kinds.contains(&Kind::Connection) {
        for k in c.list_all("/v1/connections", "connections").await? {
            let n = k["name"].as_str().unwrap_or_default().to_owned();
            out.insert(
                (Kind::Connection, String::new(), n),
                normalize(Kind::Connection, &k),
            );
        }
    }
    Ok(out)
}

impl ApplyArgs {
    /// Applying `file` without pruning (what `serve --resources` does).
    pub fn new(file: PathBuf) -> ApplyArgs {
        ApplyArgs {
            file,
            dry_run: false,
            prune: false,
        }
    }

    /// Applies (unless a dry run) and prints the plan.
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        let plan = self.apply(c).await?;
        if plan.is_empty() {
            println!("no changes");
        }
        for l in &plan {
            println!("{l}");
        }
        Ok(())
    }

    /// Applies (unless a dry run); returns the plan, one line per change.
    pub async fn apply(&self, c: &Client) -> anyhow::Result<Vec<String>> {
        let raw = if self.file.as_os_str() == "-" {
            match read_doc(&self.file)? {
                Value::Array(a) => a,
                v => vec![v],
            }
        } else {
            documents(self)?
        };
        let mut wanted = Vec::with_capacity(raw.len());
        for (i, d) in raw.iter().enumerate() {
            wanted.push((parse(d, i)?, d.get("spec").cloned().unwrap_or(json!({}))));
        }
        wanted.sort_by(|(a, _), (b, _)| (a.kind, &a.bus, &a.name).cmp(&(b.kind, &b.bus, &b.name)));
        let have = current(c, &[Kind::Bus, Kind::Connection, Kind::Rule]).await?;
        let mut plan: Vec<String> = Vec::new();
        let mut writes: Vec<(Resource, Value)> = Vec::new();
        for (r, body) in &wanted {
            let key = (r.kind, r.bus.clone(), r.name.clone());
            match have.get(&key) {
                None => {
                    plan.push(format!("+ {}", r.label()));
                    writes.push((r.clone(), body.clone()));
                }
                Some(now) => {
                    let mut d = Vec::new();
                    diff(now, &r.spec, "", &mut d);
                    if !d.is_empty() {
                        plan.push(format!("~ {}", r.label()));
                        plan.extend(d.into_iter().map(|l| format!("    {l}")));
                        writes.push((r.clone(), body.clone()));
                    }
                }
            }
        }
        let mut deletes: Vec<Resource> = Vec::new();
        if self.prune {
            for (kind, bus, name) in have.keys().rev() {
                let declared = wanted
                    .iter()
                    .any(|(r, _)| r.kind == *kind && &r.bus == bus && &r.name == name);
                let bus_gone = *kind == Kind::Rule
                    && !wanted
                        .iter()
                        .any(|(r, _)| r.kind == Kind::Bus && &r.name == bus)
                    && bus != "default";
                if declared || (*kind == Kind::Bus && name == "default") || bus_gone {
                    // Rules of a pruned bus go with it.
                    continue;
                }
                let r = Resource {
                    kind: *kind,
                    bus: bus.clone(),
                    name: name.clone(),
                    spec: Value::Null,
                };
                plan.push(format!("- {}", r.label()));
                deletes.push(r);
            }
        }
        if plan.is_empty() || self.dry_run {
            return Ok(plan);
        }
        for (r, body) in writes {
            c.put(&r.path(), &body)
                .await
                .with_context(|| format!("applying {}", r.label()))?;
        }
        for r in deletes {
            c.delete(&r.path())
                .await
                .with_context(|| format!("deleting {}", r.label()))?;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn diffs_name_pointers() {
        let mut d = Vec::new();
        diff(
            &json!({"filter": {"pattern": {"type": ["a"]}}, "enabled": true}),
            &json!({"filter": {"pattern": {"type": ["b"]}}, "enabled": true, "x": 1}),
            "",
            &mut d,
        );
        assert_eq!(
            d,
            vec![r#"/filter/pattern/type: ["a"] → ["b"]"#, "/x: (absent) → 1"]
        );
        let n = normalize(
            Kind::Connection,
            &json!({"api_key": {"header": "h", "value": "s"}}),
        );
        assert_eq!(n, json!({"description": "", "api_key": {"header": "h"}}));
    }
}
