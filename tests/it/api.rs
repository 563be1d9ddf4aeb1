//! The HTTP API through the real binary: validation in both modes, limits, batch, reads, buses.

use serde_json::{Value, json};

use crate::harness::{Server, client, event, get_json, get_status, post_structured, problem};

/// One validation rule: how to break it in each mode, and the attribute the problem must name.
struct Rule {
    name: &'static str,
    attribute: &'static str,
    /// Replace (Some) or remove (None) these structured members.
    structured: &'static [(&'static str, Option<&'static str>)],
    /// Replace (Some) or remove (None) these binary headers; None for rules binary mode cannot break.
    binary: Option<&'static [(&'static str, Option<&'static str>)]>,
}

const RULES: &[Rule] = &[
    Rule {
        name: "id missing",
        attribute: "id",
        structured: &[("id", None)],
        binary: Some(&[("ce-id", None)]),
    },
    Rule {
        name: "id empty",
        attribute: "id",
        structured: &[("id", Some("\"\""))],
        binary: Some(&[("ce-id", Some(""))]),
    },
    Rule {
        name: "source missing",
        attribute: "source",
        structured: &[("source", None)],
        binary: Some(&[("ce-source", None)]),
    },
    Rule {
        name: "source empty",
        attribute: "source",
        structured: &[("source", Some("\"\""))],
        binary: Some(&[("ce-source", Some(""))]),
    },
    Rule {
        name: "source not a URI-reference",
        attribute: "source",
        structured: &[("source", Some("\"not a uri\""))],
        binary: Some(&[("ce-source", Some("not%20a%20uri"))]),
    },
    Rule {
        name: "type missing",
        attribute: "type",
        structured: &[("type", None)],
        binary: Some(&[("ce-type", None)]),
    },
    Rule {
        name: "type empty",
        attribute: "type",
        structured: &[("type", Some("\"\""))],
        binary: Some(&[("ce-type", Some(""))]),
    },
    Rule {
        name: "specversion not 1.0",
        attribute: "specversion",
        structured: &[("specversion", Some("\"0.3\""))],
        binary: Some(&[("ce-specversion", Some("0.3"))]),
    },
    Rule {
        name: "specversion missing",
        attribute: "specversion",
        structured: &[("specversion", None)],
        binary: Some(&[("ce-specversion", None)]),
    },
    Rule {
        name: "time not RFC 3339",
        attribute: "time",
        structured: &[("time", Some("\"2026-01-02 03:04:05\""))],
        binary: Some(&[("ce-time", Some("2026-13-02T03:04:05Z"))]),
    },
    Rule {
        name: "dataschema not absolute",
        attribute: "dataschema",
        structured: &[("dataschema", Some("\"/relative/schema.json\""))],
        binary: Some(&[("ce-dataschema", Some("/relative/schema.json"))]),
    },
    Rule {
        name: "datacontenttype not a media type",
        attribute: "datacontenttype",
        structured: &[("datacontenttype", Some("\"json\""))],
        binary: Some(&[("content-type", Some("json"))]),
    },
    Rule {
        name: "subject empty",
        attribute: "subject",
        structured: &[("subject", Some("\"\""))],
        binary: Some(&[("ce-subject", Some(""))]),
    },
    Rule {
        name: "extension name with a bad character",
        attribute: "my_ext",
        structured: &[("my_ext", Some("\"x\""))],
        binary: Some(&[("ce-my_ext", Some("x"))]),
    },
    Rule {
        name: "extension name longer than 20",
        attribute: "abcdefghijklmnopqrstu",
        structured: &[("abcdefghijklmnopqrstu", Some("\"x\""))],
        binary: Some(&[("ce-abcdefghijklmnopqrstu", Some("x"))]),
    },
    Rule {
        name: "extension name upper case",
        attribute: "MyExt",
        structured: &[("MyExt", Some("\"x\""))],
        binary: None, // HTTP header names are case-insensitive
    },
    Rule {
        name: "reserved extension name",
        attribute: "data",
        structured: &[],
        binary: Some(&[("ce-data", Some("x"))]),
    },
    Rule {
        name: "extension value an object",
        attribute: "ext1",
        structured: &[("ext1", Some("{\"a\":1}"))],
        binary: None, // headers carry strings only
    },
    Rule {
        name: "extension value a float",
        attribute: "num",
        structured: &[("num", Some("1.5"))],
        binary: None,
    },
    Rule {
        name: "extension integer out of range",
        attribute: "num",
        structured: &[("num", Some("2147483648"))],
        binary: None,
    },
    Rule {
        name: "core attribute not a string",
        attribute: "id",
        structured: &[("id", Some("42"))],
        binary: None,
    },
    Rule {
        name: "both data and data_base64",
        attribute: "data_base64",
        structured: &[("data_base64", Some("\"AAE=\""))],
        binary: None, // a binary-mode body is one thing
    },
    Rule {
        name: "data_base64 not base64",
        attribute: "data_base64",
        structured: &[("data", None), ("data_base64", Some("\"!!\""))],
        binary: None,
    },
];

fn structured_body(rule: &Rule) -> String {
    let mut ev = event("v-1", json!({"k": 1}));
    let obj = ev.as_object_mut().expect("object");
    for (k, v) in rule.structured {
        match v {
            Some(raw) => {
                obj.insert(
                    (*k).to_owned(),
                    serde_json::from_str(raw).expect("rule value"),
                );
            }
            None => {
                obj.remove(*k);
            }
        }
    }
    ev.to_string()
}

fn binary_request(
    c: &reqwest::Client,
    url: &str,
    rule: &[(&str, Option<&str>)],
) -> reqwest::RequestBuilder {
    let mut headers: Vec<(String, String)> = [
        ("ce-specversion", "1.0"),
        ("ce-id", "v-1"),
        ("ce-source", "/it"),
        ("ce-type", "dev.railyard.test"),
        ("content-type", "application/json"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in rule {
        headers.retain(|(name, _)| name != k);
        if let Some(v) = v {
            headers.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    let mut req = c.post(url).body("{\"k\":1}");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req
}

async fn expect_problem(
    resp: reqwest::Response,
    status: u16,
    attribute: &str,
    what: &str,
) -> Value {
    let body = problem(resp, status, what).await;
    if !attribute.is_empty() {
        assert_eq!(
            body["attribute"],
            json!(attribute),
            "{what}: problem must name the attribute: {body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(attribute)),
            "{what}: detail must name it: {body}"
        );
        assert_eq!(
            body["errors"][0]["pointer"],
            json!(format!("/{attribute}")),
            "{what}: {body}"
        );
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn every_validation_rule_in_binary_and_structured_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let c = client();
    let url = srv.events_url("default");
    let mut checked = 0;
    for rule in RULES {
        if !rule.structured.is_empty() {
            let resp = c
                .post(&url)
                .header("content-type", "application/cloudevents+json")
                .body(structured_body(rule))
                .send()
                .await
                .expect("post");
            expect_problem(
                resp,
                400,
                rule.attribute,
                &format!("structured: {}", rule.name),
            )
            .await;
            checked += 1;
        }
        if let Some(b) = rule.binary {
            let resp = binary_request(&c, &url, b).send().await.expect("post");
            expect_problem(resp, 400, rule.attribute, &format!("binary: {}", rule.name)).await;
            checked += 1;
        }
    }
    assert!(checked >= 35, "{checked}");
    // Nothing invalid was stored.
    let list: Value = get_json(&c, &url).await;
    assert_eq!(list["events"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_media_types_and_malformed_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &["--max-event-size", "4KiB"]);
    let c = client();
    let url = srv.events_url("default");

    let unknown = post_structured(&c, &srv.events_url("nope"), &event("1", json!(1))).await;
    expect_problem(unknown, 404, "", "unknown bus").await;

    let big = event("big", json!({ "pad": "x".repeat(5000) }));
    expect_problem(
        post_structured(&c, &url, &big).await,
        413,
        "",
        "structured over the limit",
    )
    .await;
    let resp = binary_request(&c, &url, &[])
        .body(format!("\"{}\"", "y".repeat(5000)))
        .send()
        .await
        .expect("post");
    expect_problem(resp, 413, "", "binary over the limit").await;
    // Chunked (no Content-Length) bodies are cut off the same way.
    let (status, body) = chunked_post(&srv.url, "/v1/buses/default/events", 10, 1000).await;
    assert_eq!(status, 413, "chunked over the limit: {body}");
    assert!(
        body.contains("urn:railyard:problem:event-too-large"),
        "{body}"
    );

    let resp = c
        .post(&url)
        .header("content-type", "application/cloudevents+xml")
        .body("<x/>")
        .send()
        .await
        .expect("post");
    expect_problem(resp, 415, "", "cloudevents+xml").await;
    let resp = c
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("post");
    expect_problem(resp, 415, "", "not a CloudEvent").await;

    let resp = c
        .post(&url)
        .header("content-type", "application/cloudevents+json")
        .body("{\n  \"id\": \"1\",\n  oops\n}")
        .send()
        .await
        .expect("post");
    let p = expect_problem(resp, 400, "", "malformed JSON").await;
    assert_eq!(
        (p["line"].clone(), p["column"].clone()),
        (json!(3), json!(3)),
        "{p}"
    );
    // Media type matched case-insensitively, with parameters.
    let resp = c
        .post(&url)
        .header(
            "content-type",
            "Application/CloudEvents+JSON; charset=UTF-8",
        )
        .body(event("ok-1", json!({"a": 1})).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 202);
}

/// Sends a chunked structured-mode body of `chunks` x `size` bytes; returns status and body.
async fn chunked_post(base: &str, path: &str, chunks: usize, size: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/cloudevents+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    for _ in 0..chunks {
        let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server may answer and close early
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_stores_valid_entries_and_reports_invalid_ones_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let c = client();
    let url = srv.events_url("default");
    let mut bad = event("b-2", json!(2));
    bad["source"] = json!("bad source");
    let batch = json!([
        event("b-1", json!(1)),
        bad,
        event("b-3", json!({"three": 3}))
    ]);
    let resp = c
        .post(&url)
        .header("content-type", "application/cloudevents-batch+json")
        .body(batch.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.expect("json");
    let r = &body["results"];
    assert_eq!(r[0], json!({"id": "b-1", "sequence": 1}));
    assert_eq!(r[1]["index"], json!(1));
    assert_eq!(r[1]["error"]["attribute"], json!("source"));
    assert_eq!(r[1]["error"]["status"], json!(400));
    assert_eq!(r[2], json!({"id": "b-3", "sequence": 2}));
    assert_eq!(body["failed"], json!(1));
    let got: Value = get_json(&c, &format!("{url}/2")).await;
    assert_eq!(got, batch[2]);

    let empty = c
        .post(&url)
        .header("content-type", "application/cloudevents-batch+json")
        .body("[]")
        .send()
        .await
        .expect("post");
    assert_eq!(empty.status(), 202);
    assert_eq!(
        empty.json::<Value>().await.expect("json"),
        json!({"results": []})
    );

    let many: Vec<Value> = (0..1001)
        .map(|i| event(&format!("m-{i}"), json!(i)))
        .collect();
    let resp = c
        .post(&url)
        .header("content-type", "application/cloudevents-batch+json")
        .body(Value::Array(many).to_string())
        .send()
        .await
        .expect("post");
    expect_problem(resp, 413, "", "1001 events").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_by_sequence_after_and_since() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let c = client();
    let url = srv.events_url("default");
    let mut sent = Vec::new();
    for i in 0..5 {
        let ev = event(&format!("r-{i}"), json!({"i": i, "f": 1.25e3, "s": "é"}));
        assert_eq!(post_structured(&c, &url, &ev).await.status(), 202);
        sent.push(ev);
    }
    // Binary data byte for byte.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let resp = c
        .post(&url)
        .header("ce-specversion", "1.0")
        .header("ce-id", "bin")
        .header("ce-source", "/it")
        .header("ce-type", "t")
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 202);
    let bin = c
        .get(format!("{url}/6?mode=binary"))
        .send()
        .await
        .expect("get");
    assert_eq!(bin.headers()["ce-id"], "bin");
    assert_eq!(bin.headers()["content-type"], "application/octet-stream");
    assert_eq!(bin.bytes().await.expect("bytes").to_vec(), bytes);

    for (i, ev) in sent.iter().enumerate() {
        let resp = c.get(format!("{url}/{}", i + 1)).send().await.expect("get");
        assert_eq!(
            resp.headers()["content-type"],
            "application/cloudevents+json"
        );
        assert_eq!(&resp.json::<Value>().await.expect("json"), ev);
    }
    let page: Value = get_json(&c, &format!("{url}?after=2&limit=2")).await;
    let seqs: Vec<u64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["sequence"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![3, 4]);
    assert_eq!(page["next_after"], json!(4));
    assert_eq!(page["events"][0]["event"], sent[2]);
    let all: Value = get_json(&c, &format!("{url}?since=2000-01-01T00:00:00Z")).await;
    assert_eq!(all["events"].as_array().map(Vec::len), Some(6));
    let none: Value = get_json(&c, &format!("{url}?since=2999-01-01T00:00:00Z")).await;
    assert_eq!(none["events"], json!([]));
    let missing = c.get(format!("{url}/99")).send().await.expect("get");
    expect_problem(missing, 404, "", "beyond the end").await;
    let bad = c.get(format!("{url}?after=x")).send().await.expect("get");
    expect_problem(bad, 400, "", "bad after").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn buses_crud_with_etags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = Server::start(dir.path(), &[]);
    let c = client();
    let base = format!("{}/v1/buses", srv.url);
    let created = c
        .put(format!("{base}/orders"))
        .json(
            &json!({"description": "orders", "retention": {"max_age": "7d", "max_bytes": "1GiB"}}),
        )
        .send()
        .await
        .expect("put");
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let again = c
        .put(format!("{base}/orders"))
        .header("if-match", "\"1\"")
        .json(&json!({"description": "v2"}))
        .send()
        .await
        .expect("put");
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["etag"], "\"2\"");
    let stale = c
        .put(format!("{base}/orders"))
        .header("if-match", "\"1\"")
        .json(&json!({}))
        .send()
        .await
        .expect("put");
    expect_problem(stale, 412, "", "stale If-Match").await;
    let typo = c
        .put(format!("{base}/orders"))
        .json(&json!({"retension": {}}))
        .send()
        .await
        .expect("put");
    let p = expect_problem(typo, 400, "", "unknown field").await;
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("retension")),
        "{p}"
    );
    let bad_unit = c
        .put(format!("{base}/orders"))
        .json(&json!({"retention": {"max_age": "soon"}}))
        .send()
        .await
        .expect("put");
    let p = expect_problem(bad_unit, 400, "", "bad unit").await;
    assert_eq!(p["errors"][0]["pointer"], json!("/retention/max_age"));
    let bad_name = c
        .put(format!("{base}/Bad_Name"))
        .json(&json!({}))
        .send()
        .await
        .expect("put");
    expect_problem(bad_name, 400, "", "bad name").await;

    assert_eq!(
        post_structured(&c, &srv.events_url("orders"), &event("o-1", json!(1)))
            .await
            .status(),
        202
    );
    let list: Value = get_json(&c, &base).await;
    let names: Vec<&str> = list["buses"]
        .as_array()
        .expect("buses")
        .iter()
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["default", "orders"]);
    let page: Value = get_json(&c, &format!("{base}?limit=1")).await;
    assert_eq!(page["next_cursor"], json!("default"));
    let page: Value = get_json(&c, &format!("{base}?limit=1&cursor=default")).await;
    assert_eq!(page["buses"][0]["name"], json!("orders"));

    // Survives a restart (kill -9: a 2xx on a control-plane write is durable).
    srv.kill9();
    let srv = Server::start(dir.path(), &[]);
    let base = format!("{}/v1/buses", srv.url);
    let got: Value = get_json(&c, &format!("{base}/orders")).await;
    assert_eq!(got["description"], json!("v2"));
    assert_eq!(got["stats"]["next_sequence"], json!(2));
    let del_default = c
        .delete(format!("{base}/default"))
        .send()
        .await
        .expect("delete");
    expect_problem(del_default, 409, "", "delete default").await;
    assert_eq!(
        c.delete(format!("{base}/orders"))
            .send()
            .await
            .expect("delete")
            .status(),
        204
    );
    let gone = c.get(format!("{base}/orders")).send().await.expect("get");
    expect_problem(gone, 404, "", "deleted bus").await;
    let gone = post_structured(&c, &srv.events_url("orders"), &event("o-2", json!(2))).await;
    expect_problem(gone, 404, "", "ingest to a deleted bus").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let c = client();
    assert_eq!(get_status(&c, &format!("{}/healthz", srv.url)).await, 200);
    assert_eq!(get_status(&c, &format!("{}/readyz", srv.url)).await, 200);
    assert_eq!(
        post_structured(&c, &srv.events_url("default"), &event("m-1", json!(1)))
            .await
            .status(),
        202
    );
    let bad = c
        .post(srv.events_url("default"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 415);
    let text = c
        .get(format!("{}/metrics", srv.url))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    for needle in [
        "railyard_events_ingested_total{bus=\"default\"} 1",
        "railyard_bytes_ingested_total{bus=\"default\"}",
        "railyard_append_seconds_bucket",
        "railyard_fsync_seconds_bucket",
        "railyard_requests_rejected_total{reason=\"unsupported-media-type\"} 1",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    let nowhere = c
        .get(format!("{}/v2/nothing", srv.url))
        .send()
        .await
        .expect("get");
    expect_problem(nowhere, 404, "", "unknown route").await;
}
