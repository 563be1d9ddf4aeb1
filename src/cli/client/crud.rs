//! `railyard sources …`, `railyard schedules …` and `railyard queues …`: list, get, put -f,
//! delete of a resource under `/v1/<plural>`, the same four verbs for each.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use super::commands::{print_list, print_one};
use super::{Client, read_doc};

/// The verbs.
#[derive(Debug, clap::Subcommand)]
pub enum CrudCommand {
    /// List them (never with secrets)
    List,
    /// Show one
    Get { name: String },
    /// Create or replace one from a JSON or YAML file
    Put {
        name: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Take the `secret` member from this environment variable rather than the file
        #[arg(long)]
        secret_env: Option<String>,
    },
    /// Delete one
    Delete { name: String },
}

/// Which resource.
pub struct Resource {
    /// `sources`, `schedules`.
    pub plural: &'static str,
    /// `source`, `schedule`.
    pub singular: &'static str,
    /// The table's columns: header and JSON pointer.
    pub columns: &'static [(&'static str, &'static str)],
}

/// The webhook sources.
pub const SOURCES: Resource = Resource {
    plural: "sources",
    singular: "source",
    columns: &[
        ("NAME", "/name"),
        ("KIND", "/kind"),
        ("BUS", "/bus"),
        ("PATH", "/webhook_path"),
        ("ENABLED", "/enabled"),
        ("VERSION", "/version"),
    ],
};

/// The schedules.
pub const SCHEDULES: Resource = Resource {
    plural: "schedules",
    singular: "schedule",
    columns: &[
        ("NAME", "/name"),
        ("BUS", "/bus"),
        ("CRON", "/cron"),
        ("RATE", "/rate"),
        ("AT", "/at"),
        ("NEXT", "/next_firing"),
        ("VERSION", "/version"),
    ],
};

/// The internal queues.
pub const QUEUES: Resource = Resource {
    plural: "queues",
    singular: "queue",
    columns: &[
        ("NAME", "/name"),
        ("VISIBILITY", "/visibility_timeout"),
        ("MAX RECEIVES", "/max_receives"),
        ("VISIBLE", "/stats/visible"),
        ("IN FLIGHT", "/stats/in_flight"),
        ("DEAD", "/stats/dead"),
        ("VERSION", "/version"),
    ],
};

impl CrudCommand {
    pub async fn run(self, c: &Client, r: &Resource) -> anyhow::Result<()> {
        let base = format!("/v1/{}", r.plural);
        match self {
            CrudCommand::List => {
                let items = c.list_all(&base, r.plural).await?;
                print_list(c, &items, r.columns);
            }
            CrudCommand::Get { name } => print_one(c, &c.get(&format!("{base}/{name}")).await?),
            CrudCommand::Put {
                name,
                file,
                secret_env,
            } => {
                let mut doc = read_doc(&file)?;
                if let Some(var) = secret_env {
                    let secret = std::env::var(&var)
                        .with_context(|| format!("--secret-env: ${var} is not set"))?;
                    match &mut doc {
                        Value::Object(m) => {
                            m.insert("secret".into(), Value::String(secret));
                        }
                        _ => anyhow::bail!("{}: a {} is a JSON object", file.display(), r.singular),
                    }
                }
                print_one(c, &c.put(&format!("{base}/{name}"), &doc).await?);
            }
            CrudCommand::Delete { name } => {
                c.delete(&format!("{base}/{name}")).await?;
                eprintln!("{} {name:?} deleted", r.singular);
            }
        }
        Ok(())
    }
}
