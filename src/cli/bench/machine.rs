//! What a benchmark ran on.
//!
//! Why: a throughput figure without the machine is not comparable with anything. Every report
//! carries the core count the process may use, the CPU model and the OS/architecture, read from
//! the places that need no extra tooling (`available_parallelism`, `/proc/cpuinfo`).

/// The machine a run was measured on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Cores this process may run on (honours affinity and cgroup limits).
    pub cores: usize,
    /// CPU model name, or "unknown CPU".
    pub cpu: String,
    /// `linux`, `macos`, ...
    pub os: &'static str,
    /// `x86_64`, `aarch64`, ...
    pub arch: &'static str,
}

impl Machine {
    /// Reads the current machine; never fails (unknown parts are reported as unknown).
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "unknown CPU".to_owned());
        Self {
            cores,
            cpu,
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        }
    }

    /// `2 cores, Intel(R) Xeon(R) Processor, linux x86_64`
    pub fn summary(&self) -> String {
        let unit = if self.cores == 1 { "core" } else { "cores" };
        format!(
            "{} {unit}, {}, {} {}",
            self.cores, self.cpu, self.os, self.arch
        )
    }
}

/// The first `model name` of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let value = value.trim();
        (key.trim() == "model name" && !value.is_empty()).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_model_name() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\
                    processor\t: 1\nmodel name\t: Other\n";
        assert_eq!(
            cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(cpu_model("processor : 0\nmodel name :\n"), None);
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn summary_reads_like_a_sentence() {
        let m = Machine {
            cores: 2,
            cpu: "Xeon".into(),
            os: "linux",
            arch: "x86_64",
        };
        assert_eq!(m.summary(), "2 cores, Xeon, linux x86_64");
        assert!(Machine::detect().cores >= 1);
    }
}
