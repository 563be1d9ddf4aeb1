//! Tokens and scopes through the real binary: open until the first token exists, then 401
//! without a token, 403 outside a token's scopes; the CLI creates tokens through the API or in a
//! stopped server's data directory; serving beyond loopback without a token is refused.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{Server, bin, client, event, post_structured, problem};

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_decide_and_no_token_is_401_once_auth_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let srv = Server::start(&data, &[]);
    let c = client();
    // No token yet: open (loopback).
    let r = c.get(format!("{}/v1/buses", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .put(format!("{}/v1/buses/orders", srv.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The data directory is in use: the CLI says to use --url.
    let (ok, _, err) = cli(&[
        "token",
        "create",
        "--scope",
        "admin",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--url"), "{err}");
    // The first token, through the API.
    let (ok, admin, err) = cli(&[
        "token", "create", "--scope", "admin", "--name", "root", "--url", &srv.url,
    ]);
    assert!(ok, "{err}");
    assert!(admin.starts_with("ry_"), "{admin}");

    // Auth is on now.
    let r = c.get(format!("{}/v1/buses", srv.url)).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let p = problem(r, 401, "no token").await;
    assert_eq!(p["type"], "urn:railyard:problem:unauthorized");
    let r = c
        .get(format!("{}/v1/buses", srv.url))
        .bearer_auth("ry_not-a-token")
        .send()
        .await
        .unwrap();
    problem(r, 401, "unknown token").await;
    let r = c.get(format!("{}/healthz", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200, "health checks need no token");
    let r = c
        .get(format!("{}/v1/buses", srv.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A publish:orders token, made by the CLI with the admin token.
    let (ok, publish, err) = cli(&[
        "token",
        "create",
        "--scope",
        "publish:orders",
        "--name",
        "shop",
        "--url",
        &srv.url,
        "--token",
        &admin,
    ]);
    assert!(ok, "{err}");
    let ev = event("a1", json!({"n": 1}));
    let post = |bus: &str, token: &str| {
        c.post(srv.events_url(bus))
            .bearer_auth(token)
            .header("content-type", "application/cloudevents+json")
            .body(ev.to_string())
            .send()
    };
    assert_eq!(post("orders", &publish).await.unwrap().status(), 202);
    let p = problem(post("default", &publish).await.unwrap(), 403, "other bus").await;
    assert_eq!(p["type"], "urn:railyard:problem:forbidden");
    assert!(
        p["detail"].as_str().unwrap().contains("publish:default"),
        "{p}"
    );
    let r = c
        .get(format!("{}/v1/buses/orders/rules", srv.url))
        .bearer_auth(&publish)
        .send()
        .await
        .unwrap();
    problem(r, 403, "reading rules").await;
    let r = c
        .post(format!("{}/v1/tokens", srv.url))
        .bearer_auth(&publish)
        .json(&json!({"name": "x", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    problem(r, 403, "minting tokens").await;
    // The admin token does everything.
    assert_eq!(post("default", &admin).await.unwrap().status(), 202);
    let r = post_structured(&c, &srv.events_url("orders"), &ev).await;
    assert_eq!(r.status(), 401, "the same request without a token");
    // Listing never shows secrets; deleting a token takes effect at once.
    let list: Value = c
        .get(format!("{}/v1/tokens", srv.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&publish[8..]), "{list}");
    let r = c
        .delete(format!("{}/v1/tokens/shop", srv.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(post("orders", &publish).await.unwrap().status(), 401);
}

fn serve(data: &std::path::Path, extra: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args([
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--log",
            "warn",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn beyond_loopback_needs_a_token_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = serve(&data, &["--listen", "0.0.0.0:0"])
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--insecure") && err.contains("token"), "{err}");

    // --insecure starts (and is stopped here).
    let mut child = serve(&data, &["--listen", "0.0.0.0:0", "--insecure"]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();

    // A token made offline in the data directory: it starts without --insecure.
    let (ok, secret, err) = cli(&[
        "token",
        "create",
        "--scope",
        "admin",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(secret.starts_with("ry_"));
    let (ok, list, _) = cli(&["token", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(ok && list.contains("admin"), "{list}");
    let mut child = serve(&data, &["--listen", "0.0.0.0:0"]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// HTTPS from PEM files: a client trusting the certificate talks to the API; a plain HTTP
/// request on that port gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let srv = Server::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(srv.url.starts_with("https://127.0.0.1:"), "{}", srv.url);
    let pem = std::fs::read(&cert).unwrap();
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = c.get(format!("{}/v1/buses", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ev = event("t1", json!({}));
    let r = post_structured(&c, &srv.events_url("default"), &ev).await;
    assert_eq!(r.status(), 202);
    let plain = srv.url.replace("https://", "http://");
    assert!(
        client()
            .get(format!("{plain}/healthz"))
            .send()
            .await
            .is_err()
    );
    // Half a pair is refused at start.
    let err = Server::try_start(
        &dir.path().join("data2"),
        &["--tls-cert", cert.to_str().unwrap()],
    )
    .err()
    .unwrap_or_default();
    assert!(err.contains("tls_key"), "{err}");
}
