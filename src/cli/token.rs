//! `railyard token create|list|delete`: API tokens, through a running server (`--url`, with an
//! admin token once any exists) or directly in a stopped server's data directory (how the first
//! token is made before serving beyond loopback).
//!
//! `create` prints the secret alone on stdout, once: `TOKEN=$(railyard token create …)`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::auth::Tokens;

/// Where tokens are managed.
#[derive(Debug, Clone, clap::Args)]
pub struct Place {
    /// A running server (else the data directory of a stopped one is used)
    #[arg(long, env = "RAILYARD_URL")]
    pub url: Option<String>,
    /// Bearer token for --url
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The data directory (without --url; the server must be stopped)
    #[arg(long, env = "RAILYARD_DATA_DIR", default_value = "./railyard-data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once)
    Create {
        /// admin | publish:<bus> | consume:<queue> (repeat for several)
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A name to list and delete it by [default: token-<random>]
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        place: Place,
    },
    /// List tokens (names, scopes, the first characters; never secrets)
    List {
        #[command(flatten)]
        place: Place,
    },
    /// Delete a token: requests carrying it are refused from then on
    Delete {
        /// Its name
        name: String,
        #[command(flatten)]
        place: Place,
    },
}

fn offline(data_dir: &std::path::Path) -> anyhow::Result<(bus::datadir::DataDir, Tokens)> {
    let dir = bus::datadir::DataDir::open(data_dir).map_err(|e| match e {
        bus::log::LogError::Locked { .. } => anyhow::anyhow!(
            "a server is running on {}: give its --url (and an admin --token once tokens exist)",
            data_dir.display()
        ),
        e => anyhow::Error::new(e).context(format!("opening {}", data_dir.display())),
    })?;
    let meta = bus::meta::Meta::open(&dir.meta_dir()).context("opening the metadata store")?;
    Ok((dir, Tokens::load(meta).context("reading tokens")?))
}

async fn call(
    place: &Place,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = place
        .url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    let mut req = reqwest::Client::new().request(method, format!("{url}{path}"));
    if let Some(t) = &place.token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.with_context(|| format!("calling {url}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(text);
        bail!("{status}: {detail}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs a `token` subcommand.
pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            scopes,
            name,
            place,
        } => {
            let name = name.unwrap_or_else(|| format!("token-{:08x}", rand::random::<u32>()));
            let secret = if place.url.is_some() {
                let v = call(
                    &place,
                    reqwest::Method::POST,
                    "/v1/tokens",
                    Some(json!({"name": name, "scopes": scopes})),
                )
                .await?;
                v.get("token")
                    .and_then(Value::as_str)
                    .context("the server's answer has no token")?
                    .to_owned()
            } else {
                let (_dir, tokens) = offline(&place.data_dir)?;
                let (_, secret) = tokens.create(&name, &scopes)?;
                secret
            };
            eprintln!("token {name:?} with scopes {scopes:?}: this is the only time it is shown");
            println!("{secret}");
        }
        TokenCommand::List { place } => {
            let items: Vec<Value> = if place.url.is_some() {
                let v = call(&place, reqwest::Method::GET, "/v1/tokens", None).await?;
                v.get("tokens")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            } else {
                let (_dir, tokens) = offline(&place.data_dir)?;
                tokens
                    .list()?
                    .iter()
                    .map(|t| json!({"name": t.name, "scopes": t.scopes, "hint": t.hint, "created_at": t.created_at}))
                    .collect()
            };
            println!("{:<24} {:<40} {:<9} CREATED", "NAME", "SCOPES", "HINT");
            for t in items {
                let scopes: Vec<&str> = t["scopes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                println!(
                    "{:<24} {:<40} {:<9} {}",
                    t["name"].as_str().unwrap_or_default(),
                    scopes.join(","),
                    t["hint"].as_str().unwrap_or_default(),
                    t["created_at"].as_str().unwrap_or_default()
                );
            }
        }
        TokenCommand::Delete { name, place } => {
            if place.url.is_some() {
                call(
                    &place,
                    reqwest::Method::DELETE,
                    &format!("/v1/tokens/{name}"),
                    None,
                )
                .await?;
            } else {
                let (_dir, tokens) = offline(&place.data_dir)?;
                tokens.delete(&name)?;
            }
            eprintln!("token {name:?} deleted");
        }
    }
    Ok(())
}
