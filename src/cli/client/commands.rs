//! The resource subcommands: each a thin map from arguments to one API call and its rendering.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::render::{cell, one, table};
use super::{Client, Output, read_doc};

pub(super) fn print_list(c: &Client, items: &[Value], cols: &[(&str, &str)]) {
    if c.output() == Output::Json {
        println!("{}", Value::Array(items.to_vec()));
        return;
    }
    let headers: Vec<&str> = cols.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            cols.iter()
                .map(|(_, ptr)| cell(i.pointer(ptr).unwrap_or(&Value::Null)))
                .collect()
        })
        .collect();
    table(&headers, &rows);
}

pub(super) fn print_one(c: &Client, v: &Value) {
    match c.output() {
        Output::Json => println!("{v}"),
        Output::Table => one(v),
    }
}

/// `railyard buses …`
#[derive(Debug, clap::Subcommand)]
pub enum BusesCommand {
    /// List buses
    List,
    /// Show one bus
    Get { name: String },
    /// Create or replace a bus from a JSON or YAML file (`{"description", "retention"}`)
    Put {
        name: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a bus, its rules and its events
    Delete { name: String },
}

impl BusesCommand {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        match self {
            BusesCommand::List => {
                let items = c.list_all("/v1/buses", "buses").await?;
                print_list(
                    c,
                    &items,
                    &[
                        ("NAME", "/name"),
                        ("NEXT SEQUENCE", "/stats/next_sequence"),
                        ("DESCRIPTION", "/description"),
                        ("VERSION", "/version"),
                    ],
                );
            }
            BusesCommand::Get { name } => print_one(c, &c.get(&format!("/v1/buses/{name}")).await?),
            BusesCommand::Put { name, file } => print_one(
                c,
                &c.put(&format!("/v1/buses/{name}"), &read_doc(&file)?)
                    .await?,
            ),
            BusesCommand::Delete { name } => {
                c.delete(&format!("/v1/buses/{name}")).await?;
                eprintln!("bus {name:?} deleted");
            }
        }
        Ok(())
    }
}

/// `railyard rules …`
#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// List the rules of a bus
    List {
        #[arg(long, default_value = "default")]
        bus: String,
    },
    /// Show one rule
    Get {
        name: String,
        #[arg(long, default_value = "default")]
        bus: String,
    },
    /// Create or replace a rule from a JSON or YAML file (`{"filter", "targets", …}`)
    Put {
        name: String,
        #[arg(long, default_value = "default")]
        bus: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a rule
    Delete {
        name: String,
        #[arg(long, default_value = "default")]
        bus: String,
    },
}

impl RulesCommand {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        match self {
            RulesCommand::List { bus } => {
                let items = c
                    .list_all(&format!("/v1/buses/{bus}/rules"), "rules")
                    .await?;
                print_list(
                    c,
                    &items,
                    &[
                        ("NAME", "/name"),
                        ("ENABLED", "/enabled"),
                        ("FILTER", "/filter"),
                        ("TARGETS", "/targets"),
                        ("VERSION", "/version"),
                    ],
                );
            }
            RulesCommand::Get { name, bus } => {
                print_one(c, &c.get(&format!("/v1/buses/{bus}/rules/{name}")).await?)
            }
            RulesCommand::Put { name, bus, file } => print_one(
                c,
                &c.put(&format!("/v1/buses/{bus}/rules/{name}"), &read_doc(&file)?)
                    .await?,
            ),
            RulesCommand::Delete { name, bus } => {
                c.delete(&format!("/v1/buses/{bus}/rules/{name}")).await?;
                eprintln!("rule {name:?} of bus {bus:?} deleted");
            }
        }
        Ok(())
    }
}

/// `railyard connections …`
#[derive(Debug, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// List connections (never their secrets)
    List,
    /// Show one connection
    Get { name: String },
    /// Create or replace a connection from a JSON or YAML file
    Put {
        name: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a connection (refused while a target uses it)
    Delete { name: String },
}

impl ConnectionsCommand {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        match self {
            ConnectionsCommand::List => {
                let items = c.list_all("/v1/connections", "connections").await?;
                print_list(
                    c,
                    &items,
                    &[
                        ("NAME", "/name"),
                        ("DESCRIPTION", "/description"),
                        ("VERSION", "/version"),
                    ],
                );
            }
            ConnectionsCommand::Get { name } => {
                print_one(c, &c.get(&format!("/v1/connections/{name}")).await?)
            }
            ConnectionsCommand::Put { name, file } => print_one(
                c,
                &c.put(&format!("/v1/connections/{name}"), &read_doc(&file)?)
                    .await?,
            ),
            ConnectionsCommand::Delete { name } => {
                c.delete(&format!("/v1/connections/{name}")).await?;
                eprintln!("connection {name:?} deleted");
            }
        }
        Ok(())
    }
}

/// `railyard events …`
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Publish events: a structured CloudEvent, or an array of them (batch), from a file
    Put {
        #[arg(long, default_value = "default")]
        bus: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Show one event by sequence, exactly as stored
    Get {
        sequence: u64,
        #[arg(long, default_value = "default")]
        bus: String,
    },
    /// Print events as they arrive (from the end, or after --after)
    Tail {
        #[arg(long, default_value = "default")]
        bus: String,
        /// Start after this sequence (default: the current end)
        #[arg(long)]
        after: Option<u64>,
        /// Stop after this many events
        #[arg(long)]
        count: Option<u64>,
    },
    /// Show what delivery did with an event
    Trace {
        sequence: u64,
        #[arg(long, default_value = "default")]
        bus: String,
    },
}

impl EventsCommand {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        match self {
            EventsCommand::Put { bus, file } => {
                let doc = read_doc(&file)?;
                let ct = if doc.is_array() {
                    "application/cloudevents-batch+json"
                } else {
                    "application/cloudevents+json"
                };
                let v = c
                    .call(
                        reqwest::Method::POST,
                        &format!("/v1/buses/{bus}/events"),
                        Some((ct, doc.to_string().into_bytes())),
                    )
                    .await?;
                match c.output() {
                    Output::Json => println!("{v}"),
                    Output::Table => {
                        let items = v["results"].as_array().cloned().unwrap_or_default();
                        print_list(
                            c,
                            &items,
                            &[
                                ("ID", "/id"),
                                ("SEQUENCE", "/sequence"),
                                ("ERROR", "/error/detail"),
                            ],
                        );
                    }
                }
            }
            EventsCommand::Get { sequence, bus } => print_one(
                c,
                &c.get(&format!("/v1/buses/{bus}/events/{sequence}")).await?,
            ),
            EventsCommand::Trace { sequence, bus } => print_one(
                c,
                &c.get(&format!("/v1/buses/{bus}/events/{sequence}/trace"))
                    .await?,
            ),
            EventsCommand::Tail { bus, after, count } => {
                let mut after = match after {
                    Some(a) => a,
                    None => {
                        // The end: the sequence before the next one.
                        let v = c.get(&format!("/v1/buses/{bus}")).await?;
                        v.pointer("/stats/next_sequence")
                            .and_then(Value::as_u64)
                            .map_or(0, |n| n.saturating_sub(1))
                    }
                };
                let mut seen = 0u64;
                loop {
                    let v = c
                        .get(&format!("/v1/buses/{bus}/events?after={after}&limit=1000"))
                        .await?;
                    let events = v["events"].as_array().cloned().unwrap_or_default();
                    for e in &events {
                        match c.output() {
                            Output::Json => println!("{e}"),
                            Output::Table => println!(
                                "{:>8}  {}  {}  {}  {}",
                                cell(&e["sequence"]),
                                cell(&e["ingested_at"]),
                                cell(&e["event"]["type"]),
                                cell(&e["event"]["source"]),
                                cell(&e["event"]["id"])
                            ),
                        }
                        seen += 1;
                        if count.is_some_and(|n| seen >= n) {
                            return Ok(());
                        }
                    }
                    after = v["next_after"].as_u64().unwrap_or(after);
                    if events.is_empty() {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `railyard dead-letters …`
#[derive(Debug, clap::Args)]
pub struct DeadLettersCommand {
    #[arg(long, default_value = "default")]
    bus: String,
    #[arg(long)]
    rule: String,
    #[arg(long)]
    target: String,
    #[command(subcommand)]
    action: DeadLetterAction,
}

#[derive(Debug, clap::Subcommand)]
enum DeadLetterAction {
    /// List dead letters
    List,
    /// Show one
    Get { id: u64 },
    /// Deliver them again (all, or --id …)
    Redrive {
        #[arg(long = "id")]
        ids: Vec<u64>,
    },
    /// Purge them (all, or --id …)
    Delete {
        #[arg(long = "id")]
        ids: Vec<u64>,
    },
}

impl DeadLettersCommand {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        let base = format!(
            "/v1/buses/{}/rules/{}/targets/{}/dead-letters",
            self.bus, self.rule, self.target
        );
        match self.action {
            DeadLetterAction::List => {
                let items = c.list_all(&base, "dead_letters").await?;
                print_list(
                    c,
                    &items,
                    &[
                        ("ID", "/id"),
                        ("SEQUENCE", "/sequence"),
                        ("AT", "/dead_lettered_at"),
                        ("REASON", "/reason"),
                    ],
                );
            }
            DeadLetterAction::Get { id } => print_one(c, &c.get(&format!("{base}/{id}")).await?),
            DeadLetterAction::Redrive { ids } => {
                let body = if ids.is_empty() {
                    json!({})
                } else {
                    json!({ "ids": ids })
                };
                let v = c.post(&format!("{base}:redrive"), &body).await?;
                print_one(c, &v);
            }
            DeadLetterAction::Delete { ids } => {
                if ids.is_empty() {
                    print_one(c, &c.delete(&base).await?);
                } else {
                    for id in ids {
                        c.delete(&format!("{base}/{id}")).await?;
                    }
                    eprintln!("deleted");
                }
            }
        }
        Ok(())
    }
}

/// `railyard test-rule -f request.json`: `{"event", "filter" | "bus" [, "rule"], "transform"?}`.
#[derive(Debug, clap::Args)]
pub struct TestRuleArgs {
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

impl TestRuleArgs {
    pub async fn run(self, c: &Client) -> anyhow::Result<()> {
        let v = c.post("/v1/test-rule", &read_doc(&self.file)?).await?;
        print_one(c, &v);
        Ok(())
    }
}
