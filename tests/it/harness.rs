//! Runs the real `railyard` binary on an ephemeral loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_railyard")
}

/// A running `railyard serve`.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub stderr_path: PathBuf,
}

impl Server {
    /// Starts `railyard serve` on `data_dir` with extra flags; waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Self::try_start(data_dir, extra).unwrap_or_else(|e| panic!("server did not start: {e}"))
    }

    pub fn try_start(data_dir: &Path, extra: &[&str]) -> Result<Server, String> {
        Self::try_start_env(data_dir, extra, &[])
    }

    /// As [`Server::start`], with environment variables (test failpoints).
    pub fn start_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::try_start_env(data_dir, extra, env)
            .unwrap_or_else(|e| panic!("server did not start: {e}"))
    }

    pub fn try_start_env(
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let stderr_path = data_dir.with_extension(format!("stderr.{}", rand::random::<u32>()));
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--log", "info"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Server {
                child: Some(child),
                url,
                stderr_path,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::fs::read_to_string(&stderr_path).unwrap_or_default())
            }
        }
    }

    pub fn events_url(&self, bus: &str) -> String {
        format!("{}/v1/buses/{bus}/events", self.url)
    }

    /// SIGKILL, no warning.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("server already stopped");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = c.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("server did not exit within 30s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A structured-mode event with some JSON data.
pub fn event(id: &str, data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "/it", "type": "dev.railyard.test",
        "time": "2026-01-02T03:04:05.678+01:00", "ext1": "v", "num": 7, "flag": true,
        "datacontenttype": "application/json", "data": data,
    })
}

pub async fn post_structured(
    c: &reqwest::Client,
    url: &str,
    ev: &serde_json::Value,
) -> reqwest::Response {
    c.post(url)
        .header("content-type", "application/cloudevents+json")
        .body(ev.to_string())
        .send()
        .await
        .expect("post")
}

/// GETs `url` and decodes the JSON body (whatever the status).
pub async fn get_json(c: &reqwest::Client, url: &str) -> serde_json::Value {
    c.get(url)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json body")
}

/// Runs `railyard log verify --data-dir <data>`: (exit code, stdout).
pub fn log_verify(data: &Path) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .args(["log", "verify", "--data-dir"])
        .arg(data)
        .output()
        .expect("run log verify");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// GETs `url` and returns the status.
pub async fn get_status(c: &reqwest::Client, url: &str) -> reqwest::StatusCode {
    c.get(url).send().await.expect("get").status()
}

/// Checks a problem+json answer (status, content type, `status` member, `type` URN); returns its
/// body for further checks.
pub async fn problem(resp: reqwest::Response, status: u16, what: &str) -> serde_json::Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    assert_eq!(got, status, "{what}: status; body {body}");
    assert_eq!(ct, "application/problem+json", "{what}: content type");
    assert_eq!(body["status"], serde_json::json!(status), "{what}: {body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:railyard:problem:")),
        "{what}: {body}"
    );
    body
}
