//! The CLI as a client of the API: `railyard buses|rules|connections|sources|schedules|queues|events|dead-letters …` and
//! `railyard test-rule`. Everything goes through the public REST API (nothing touches the data
//! directory), so the CLI works against any server it can reach, with the same auth.
//!
//! `--url` (`RAILYARD_URL`, default `http://127.0.0.1:8080`), `--token` (`RAILYARD_TOKEN`),
//! `-o table|json`: tables for people, the API's JSON for scripts. Files given with `-f` may be
//! JSON or YAML (`-` reads stdin). Errors print the problem's detail and each field error, and
//! exit 1.

mod apply;
mod commands;
mod crud;
mod render;

pub use apply::ApplyArgs;
pub use crud::{CrudCommand, QUEUES, SCHEDULES, SOURCES};

pub use commands::{
    BusesCommand, ConnectionsCommand, DeadLettersCommand, EventsCommand, RulesCommand, TestRuleArgs,
};

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

/// How to reach the server, and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct Conn {
    /// The server
    #[arg(
        long,
        env = "RAILYARD_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Bearer token
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output: table (for people) or json (the API's answer, for scripts)
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns
    Table,
    /// JSON
    Json,
}

/// An API client.
pub struct Client {
    http: reqwest::Client,
    conn: Conn,
}

impl Client {
    pub fn new(conn: Conn) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder().build()?,
            conn,
        })
    }

    /// A client of this server's own API on a loopback port with a token of its own (for
    /// `serve --resources`).
    pub fn local(url: String, token: String) -> anyhow::Result<Client> {
        Client::new(Conn {
            url,
            token: Some(token),
            output: Output::Json,
        })
    }

    pub fn output(&self) -> Output {
        self.conn.output
    }

    /// Sends a request; a problem answer becomes an error with its detail and field errors.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.conn.url.trim_end_matches('/'));
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.conn.token {
            req = req.bearer_auth(t);
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let mut msg = format!(
                "{} {}",
                status.as_u16(),
                v.get("detail").and_then(Value::as_str).unwrap_or("")
            );
            for e in v
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                msg.push_str(&format!(
                    "\n  {}: {}",
                    e["pointer"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                ));
            }
            bail!(msg);
        }
        Ok(v)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::PUT,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Every page of a list (`{<key>: [...], next_cursor}`).
    pub async fn list_all(&self, path: &str, key: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let p = match &cursor {
                Some(c) => format!("{path}{sep}limit=1000&cursor={c}"),
                None => format!("{path}{sep}limit=1000"),
            };
            let v = self.get(&p).await?;
            out.extend(
                v.get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            );
            match v.get("next_cursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
    }
}

/// Reads a JSON or YAML document from a file (`-`: stdin).
pub fn read_doc(path: &Path) -> anyhow::Result<Value> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    parse_doc(&text).with_context(|| format!("{} is neither JSON nor YAML", path.display()))
}

/// JSON, else YAML (one document).
pub fn parse_doc(text: &str) -> anyhow::Result<Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text)?;
    match docs.as_slice() {
        [one] => render::yaml_to_json(one),
        [] => bail!("the document is empty"),
        _ => bail!("{} documents; one was expected", docs.len()),
    }
}
