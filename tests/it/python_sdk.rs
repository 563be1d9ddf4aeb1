//! Events sent with the official CloudEvents Python SDK read back identical (see
//! `tests/python/sdk_roundtrip.py`; the README's test command installs the SDK).

use std::process::Command;

use crate::harness::Server;

#[test]
fn python_sdk_events_read_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_roundtrip.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&srv.url)
        .output()
        .expect("python3 must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK round trip failed (is the `cloudevents` package installed? `pip install cloudevents`)\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
