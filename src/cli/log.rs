//! `railyard log verify`: check every record and index of every bus, offline, and report the first
//! bad offset. Read-only; run it with the server stopped (or on a copy of the directory).

use std::path::PathBuf;

use anyhow::Context;
use bus::log::verify;

#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Check every record (checksum, sequence) and index entry; exit 1 on damage
    Verify {
        /// The server's data directory
        #[arg(long, env = "RAILYARD_DATA_DIR", default_value = "./railyard-data")]
        data_dir: PathBuf,
        /// Only this bus
        #[arg(long)]
        bus: Option<String>,
    },
}

/// Runs a `log` subcommand; returns the process exit code.
pub fn run(cmd: LogCommand) -> anyhow::Result<u8> {
    let LogCommand::Verify { data_dir, bus } = cmd;
    let logs = bus::datadir::bus_log_dirs(&data_dir)
        .with_context(|| format!("listing buses in {}", data_dir.display()))?;
    if logs.is_empty() {
        anyhow::bail!("no bus logs under {}", data_dir.display());
    }
    let mut damaged = false;
    for (name, dir) in logs
        .iter()
        .filter(|(n, _)| bus.as_ref().is_none_or(|b| b == n))
    {
        let r = verify::verify(dir).with_context(|| format!("verifying bus {name}"))?;
        let range = r.range.map_or("no records".to_owned(), |(a, b)| {
            format!("sequences {a}..{b}")
        });
        if let Some(t) = &r.torn_tail {
            println!(
                "bus {name}: torn tail at {} offset {}: {} (an interrupted write that was never acknowledged; cleared on the next start)",
                t.path.display(),
                t.offset,
                t.reason
            );
        }
        match &r.damage {
            Some(d) => {
                damaged = true;
                println!(
                    "bus {name}: DAMAGED: {} at offset {}: {}",
                    d.path.display(),
                    d.offset,
                    d.reason
                );
            }
            None => println!(
                "bus {name}: ok: {} segments, {} records, {range}",
                r.segments, r.records
            ),
        }
    }
    Ok(if damaged { 1 } else { 0 })
}
