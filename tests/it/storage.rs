//! Storage through the real binary: corruption refuses to start, a full disk answers 507 and
//! recovers, SIGTERM drains, and one data directory has one server.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{
    Server, bin, client, event, get_json, get_status, log_verify, post_structured,
};

const SMALL: &[&str] = &[
    "--segment-size",
    "64KiB",
    "--max-batch-size",
    "16KiB",
    "--max-event-size",
    "8KiB",
];

fn segments(log_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(log_dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// "… <path> at offset <n> …" → n
fn offset_after(text: &str, path: &Path) -> Option<u64> {
    let p = path.display().to_string();
    let at = text.find(&p)? + p.len();
    let rest = text[at..].strip_prefix(" at offset ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_in_a_sealed_segment_refuses_to_start_and_verify_names_the_same_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut srv = Server::start(&data, SMALL);
    let c = client();
    for i in 0..300 {
        let ev = event(&format!("e-{i}"), json!({ "i": i, "pad": "z".repeat(400) }));
        assert_eq!(
            post_structured(&c, &srv.events_url("default"), &ev)
                .await
                .status(),
            202
        );
    }
    assert!(srv.terminate().success());
    let log_dir = data.join("buses/default/log");
    let segs = segments(&log_dir);
    assert!(segs.len() >= 3, "expected several segments, got {segs:?}");

    // Clean first: verify says ok.
    let (code, stdout) = log_verify(&data);
    assert_eq!(code, Some(0), "{stdout}");

    let victim = &segs[1];
    let mut bytes = std::fs::read(victim).expect("read");
    let flip = bytes.len() / 2;
    bytes[flip] ^= 0x5a;
    std::fs::write(victim, &bytes).expect("write");

    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(SMALL)
        .output()
        .expect("serve");
    assert!(
        !out.status.success(),
        "serve must refuse to start on a damaged sealed segment"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let serve_offset = offset_after(&stderr, victim)
        .unwrap_or_else(|| panic!("serve must name the file and offset:\n{stderr}"));
    assert!(
        serve_offset <= flip as u64,
        "offset {serve_offset} is past the flipped byte {flip}"
    );

    let (code, stdout) = log_verify(&data);
    assert_eq!(code, Some(1), "verify must fail:\n{stdout}");
    assert_eq!(
        offset_after(&stdout, victim),
        Some(serve_offset),
        "verify and serve must name the same place:\n{stdout}\n{stderr}"
    );
}

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the full-disk test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_answers_507_keeps_reads_and_resumes_when_space_is_freed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("small");
    let _fs = Tmpfs::mount(&mnt, "12m");
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![1u8; 4 << 20]).expect("filler");
    let data = mnt.join("data");
    let flags = [
        "--segment-size",
        "1MiB",
        "--max-batch-size",
        "128KiB",
        "--max-event-size",
        "16KiB",
    ];
    let mut srv = Server::start(&data, &flags);
    let c = client();
    let url = srv.events_url("default");
    let mut acked: Vec<(u64, Value)> = Vec::new();
    let mut full = None;
    for i in 0..20_000 {
        let ev = event(
            &format!("f-{i}"),
            json!({ "i": i, "pad": "q".repeat(3000) }),
        );
        let resp = post_structured(&c, &url, &ev).await;
        match resp.status().as_u16() {
            202 => {
                let body: Value = resp.json().await.expect("json");
                acked.push((body["results"][0]["sequence"].as_u64().expect("seq"), ev));
            }
            507 => {
                assert_eq!(resp.headers()["content-type"], "application/problem+json");
                full = Some(resp.json::<Value>().await.expect("json"));
                break;
            }
            s => panic!(
                "unexpected status {s}: {}",
                resp.text().await.unwrap_or_default()
            ),
        }
    }
    let problem = full.expect("the disk never filled up");
    assert_eq!(problem["status"], json!(507), "{problem}");
    assert!(acked.len() > 100, "{}", acked.len());
    assert!(srv.is_running(), "no crash, no SIGBUS");
    // Still full: still 507, and reads keep working.
    let again = post_structured(&c, &url, &event("still-full", json!(1))).await;
    assert_eq!(again.status(), 507);
    for (seq, ev) in acked.iter().step_by(37) {
        let got: Value = get_json(&c, &format!("{url}/{seq}")).await;
        assert_eq!(&got, ev);
    }
    assert_eq!(get_status(&c, &format!("{}/healthz", srv.url)).await, 200);

    std::fs::remove_file(&filler).expect("free space");
    let resumed = post_structured(&c, &url, &event("after-free", json!({"ok": true}))).await;
    assert_eq!(resumed.status(), 202, "ingest resumes once space is freed");
    let seq = resumed.json::<Value>().await.expect("json")["results"][0]["sequence"]
        .as_u64()
        .expect("seq");
    assert_eq!(
        seq,
        acked.last().expect("acked").0 + 1,
        "sequences stay dense across the refusals"
    );

    assert!(srv.terminate().success());
    let (code, stdout) = log_verify(&data);
    assert_eq!(code, Some(0), "no corrupt record: {stdout}");
    let srv = Server::start(&data, &flags);
    let url = srv.events_url("default");
    for (seq, ev) in &acked {
        let got: Value = get_json(&c, &format!("{url}/{seq}")).await;
        assert_eq!(&got, ev, "sequence {seq}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_in_flight_appends_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut srv = Server::start(&data, &[]);
    let url = srv.events_url("default");
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..16)
        .map(|k| {
            let (url, acked) = (url.clone(), acked.clone());
            tokio::spawn(async move {
                let c = client();
                for n in 0.. {
                    let ev = event(&format!("t-{k}-{n}"), json!({"k": k, "n": n}));
                    // Unacknowledged requests may fail as the server closes (a keep-alive
                    // connection closing under a new request); only 202s count.
                    let sent = c
                        .post(&url)
                        .header("content-type", "application/cloudevents+json")
                        .body(ev.to_string())
                        .send()
                        .await;
                    let Ok(resp) = sent.and_then(|r| r.error_for_status()) else {
                        return;
                    };
                    let Ok(body) = resp.json::<Value>().await else {
                        return;
                    };
                    acked
                        .lock()
                        .unwrap()
                        .push((body["results"][0]["sequence"].as_u64().expect("seq"), ev));
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || {
        let s = srv.terminate();
        (s, srv)
    })
    .await
    .expect("join");
    assert!(status.0.success(), "exit status {:?}", status.0);
    assert!(
        status.1.stderr().contains("stopped cleanly"),
        "{}",
        status.1.stderr()
    );
    for t in tasks {
        t.await.expect("client");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(!acked.is_empty());
    let srv = Server::start(&data, &[]);
    let c = client();
    for (seq, ev) in &acked {
        let got: Value = get_json(&c, &format!("{}/{seq}", srv.events_url("default"))).await;
        assert_eq!(&got, ev);
    }
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = Server::start(dir.path(), &[]);
    let err = match Server::try_start(dir.path(), &[]) {
        Ok(_) => panic!("second server started"),
        Err(stderr) => stderr,
    };
    assert!(err.contains("locked"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_by_size_deletes_old_segments_and_old_sequences_answer_410() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flags = SMALL.to_vec();
    flags.extend(["--retention-check", "100ms"]);
    let srv = Server::start(&dir.path().join("data"), &flags);
    let c = client();
    let bus_url = format!("{}/v1/buses/default", srv.url);
    let put = c
        .put(&bus_url)
        .json(&json!({"retention": {"max_bytes": "128KiB"}}))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 200);
    let mut last = 0;
    for i in 0..600 {
        let ev = event(&format!("r-{i}"), json!({ "i": i, "pad": "w".repeat(500) }));
        let resp = post_structured(&c, &srv.events_url("default"), &ev).await;
        assert_eq!(resp.status(), 202);
        last = resp.json::<Value>().await.expect("json")["results"][0]["sequence"]
            .as_u64()
            .expect("seq");
    }
    // The retention task runs every 100ms and may already have run while the events were being
    // appended; wait (bounded) until it has brought the bus under its limit. From then on the
    // state is stable: retention deletes only while the retained bytes exceed the limit, and
    // nothing is appended any more.
    let mut stats = Value::Null;
    for _ in 0..100 {
        stats = get_json(&c, &bus_url).await["stats"].clone();
        let first = stats["first_sequence"].as_u64().unwrap_or(0);
        let retained = stats["retained_bytes"].as_u64().unwrap_or(u64::MAX);
        if first > 1 && retained <= 128 << 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let first = stats["first_sequence"].as_u64().expect("first");
    assert!(first > 1, "retention never deleted anything: {stats}");
    let retained = stats["retained_bytes"].as_u64().expect("bytes");
    assert!(
        retained <= 128 << 10,
        "retained {retained} bytes, over the limit: {stats}"
    );
    let gone = c
        .get(format!("{}/1", srv.events_url("default")))
        .send()
        .await
        .expect("get");
    assert_eq!(gone.status(), 410);
    let p: Value = gone.json().await.expect("json");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&first.to_string())),
        "{p}"
    );
    let kept = c
        .get(format!("{}/{last}", srv.events_url("default")))
        .send()
        .await
        .expect("get");
    assert_eq!(kept.status(), 200);
    let page: Value = get_json(
        &c,
        &format!("{}?after=0&limit=1", srv.events_url("default")),
    )
    .await;
    assert_eq!(
        page["events"][0]["sequence"],
        json!(first),
        "reads start at the oldest retained event"
    );
}
