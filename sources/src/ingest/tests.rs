//! Acceptance tests of the ingest edge.
//!
//! Rule tests are tables of cases. A case is a change to a valid base event (set a member to a raw
//! JSON value, or remove it) and the expected outcome. Each case is turned into a real request in
//! every mode it applies to — binary (ce- headers, Content-Type, body), structured, and as the
//! single entry of a batch — and must give the same status and name the same attribute in each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use bus::event::{Data, ExtensionValue};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

// ---------------------------------------------------------------------------------------------
// Table machinery

#[derive(Debug, Clone, Copy, PartialEq)]
enum In {
    /// Binary, structured and batch.
    Both,
    /// Structured and batch only (the case needs JSON types or members headers cannot express).
    S,
    /// Binary only (the case needs something only headers can express).
    B,
}
use In::{B, Both, S};

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Set a member to a raw JSON value (in binary mode: a JSON string, sent as a header).
    Set(&'static str, &'static str),
    /// Remove a member.
    Del(&'static str),
}
use Op::{Del, Set};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Good,
    /// Status and the attribute the error must name.
    Bad(u16, &'static str),
    /// 413, no attribute.
    TooBig,
}
use Want::{Bad, Good, TooBig};

type Case = (In, &'static [Op], Want);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire {
    Binary,
    Structured,
    BatchEntry,
}

const BASE: [(&str, &str); 4] = [
    ("specversion", r#""1.0""#),
    ("id", r#""e-1""#),
    ("source", r#""/tests""#),
    ("type", r#""com.example.test""#),
];

fn members(ops: &[Op]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = BASE
        .iter()
        .map(|(k, raw)| (k.to_string(), raw.to_string()))
        .collect();
    for op in ops {
        match *op {
            Set(name, raw) => match v.iter_mut().find(|(k, _)| k == name) {
                Some(m) => m.1 = raw.to_owned(),
                None => v.push((name.to_owned(), raw.to_owned())),
            },
            Del(name) => v.retain(|(k, _)| k != name),
        }
    }
    v
}

fn structured_body(members: &[(String, String)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(k, raw)| format!("\"{k}\":{raw}"))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    h
}

fn request(wire: Wire, ops: &[Op]) -> (HeaderMap, Bytes) {
    let m = members(ops);
    match wire {
        Wire::Structured => (
            header_map(&[("content-type", "application/cloudevents+json")]),
            Bytes::from(structured_body(&m)),
        ),
        Wire::BatchEntry => (
            header_map(&[("content-type", "application/cloudevents-batch+json")]),
            Bytes::from(format!("[{}]", structured_body(&m))),
        ),
        Wire::Binary => {
            let mut headers = HeaderMap::new();
            let mut body = Bytes::new();
            let has_ct = m.iter().any(|(k, _)| k == "datacontenttype");
            for (name, raw) in &m {
                if name == "data" {
                    body = Bytes::from(raw.clone());
                    if !has_ct {
                        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    }
                    continue;
                }
                let value: String = serde_json::from_str(raw)
                    .unwrap_or_else(|_| panic!("binary case: {name} must be a JSON string"));
                if name == "datacontenttype" {
                    // Content-Type is an ordinary header: not percent-encoded.
                    headers.insert(CONTENT_TYPE, HeaderValue::from_str(&value).unwrap());
                } else {
                    let value = HeaderValue::from_str(&percent::encode(&value)).unwrap();
                    headers.append(
                        HeaderName::from_bytes(format!("ce-{name}").as_bytes()).unwrap(),
                        value,
                    );
                }
            }
            (headers, body)
        }
    }
}

/// What a request produces: the single event, or the error (for a batch, its only entry's).
fn outcome(headers: &HeaderMap, body: Bytes, limits: &Limits) -> Result<Event, IngestError> {
    let mode = mode_of(headers)?;
    match decode(mode, headers, body, limits)? {
        Decoded::Single(ev) => Ok(ev),
        Decoded::Batch(mut entries) => {
            assert_eq!(entries.len(), 1);
            entries.remove(0).map_err(|e| {
                assert_eq!(e.index, 0);
                e.error
            })
        }
    }
}

fn run(table: &[Case]) -> usize {
    run_with(table, &Limits::default())
}

/// Runs every case in its modes; reports all mismatches at once. Returns the number of runs.
fn run_with(table: &[Case], limits: &Limits) -> usize {
    let mut failures = Vec::new();
    let mut runs = 0;
    for (modes, ops, want) in table {
        let wires: &[Wire] = match modes {
            Both => &[Wire::Binary, Wire::Structured, Wire::BatchEntry],
            S => &[Wire::Structured, Wire::BatchEntry],
            B => &[Wire::Binary],
        };
        for &wire in wires {
            runs += 1;
            let (headers, body) = request(wire, ops);
            let got = outcome(&headers, body, limits);
            let ok = match (want, &got) {
                (Good, Ok(ev)) => ev.validate().is_ok(),
                (Bad(status, attr), Err(e)) => {
                    e.status() == *status && e.attribute.as_deref() == Some(*attr)
                }
                (TooBig, Err(e)) => e.status() == 413 && e.kind == ErrorKind::TooLarge,
                _ => false,
            };
            if !ok {
                failures.push(format!("{ops:?} via {wire:?}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    runs
}

// ---------------------------------------------------------------------------------------------
// Rules, each through every mode it applies to

#[test]
fn base_event_is_valid_in_every_mode() {
    assert_eq!(run(&[(Both, &[], Good)]), 3);
}

#[test]
fn required_attributes() {
    let table: &[Case] = &[
        (Both, &[Del("id")], Bad(400, "id")),
        (Both, &[Set("id", r#""""#)], Bad(400, "id")),
        (S, &[Set("id", "null")], Bad(400, "id")),
        (S, &[Set("id", "5")], Bad(400, "id")),
        (S, &[Set("id", "true")], Bad(400, "id")),
        (S, &[Set("id", r#"["a"]"#)], Bad(400, "id")),
        (Both, &[Del("source")], Bad(400, "source")),
        (Both, &[Set("source", r#""""#)], Bad(400, "source")),
        (S, &[Set("source", "null")], Bad(400, "source")),
        (S, &[Set("source", "{}")], Bad(400, "source")),
        (Both, &[Del("type")], Bad(400, "type")),
        (Both, &[Set("type", r#""""#)], Bad(400, "type")),
        (S, &[Set("type", "null")], Bad(400, "type")),
        (S, &[Set("type", "1.5")], Bad(400, "type")),
        (Both, &[Set("id", r#"" ""#)], Good),
    ];
    assert_eq!(run(table), 37);
}

#[test]
fn specversion_must_be_1_0() {
    let table: &[Case] = &[
        (Both, &[Del("specversion")], Bad(400, "specversion")),
        (
            Both,
            &[Set("specversion", r#""0.3""#)],
            Bad(400, "specversion"),
        ),
        (
            Both,
            &[Set("specversion", r#""1.1""#)],
            Bad(400, "specversion"),
        ),
        (
            Both,
            &[Set("specversion", r#""1.0 ""#)],
            Bad(400, "specversion"),
        ),
        (
            Both,
            &[Set("specversion", r#""""#)],
            Bad(400, "specversion"),
        ),
        (S, &[Set("specversion", "1.0")], Bad(400, "specversion")),
        (S, &[Set("specversion", "null")], Bad(400, "specversion")),
    ];
    run(table);
    let (h, b) = request(Wire::Binary, &[Set("specversion", r#""0.3""#)]);
    let err = outcome(&h, b, &Limits::default()).unwrap_err();
    assert_eq!(
        err.detail,
        "attribute 'specversion': unsupported specversion \"0.3\": only 1.0 is supported"
    );
    assert_eq!(err.slug(), "invalid-event");
}

#[test]
fn source_must_be_a_uri_reference() {
    let table: &[Case] = &[
        (Both, &[Set("source", r#""/mycontext""#)], Good),
        (Both, &[Set("source", r#""my-service""#)], Good),
        (Both, &[Set("source", r#""urn:a:b""#)], Good),
        (Both, &[Set("source", r#""https://x.y/z?q#f""#)], Good),
        (Both, &[Set("source", r#""http://[::1]:8080/a%20b""#)], Good),
        (Both, &[Set("source", r#""a b""#)], Bad(400, "source")),
        (
            Both,
            &[Set("source", r#""/caf\u00e9""#)],
            Bad(400, "source"),
        ),
        (Both, &[Set("source", r#""/x%zz""#)], Bad(400, "source")),
        (Both, &[Set("source", r#""/x%4""#)], Bad(400, "source")),
        (Both, &[Set("source", r#""1a:b""#)], Bad(400, "source")),
        (
            Both,
            &[Set("source", r#""http://[::1/x""#)],
            Bad(400, "source"),
        ),
        (
            Both,
            &[Set("source", r#""http://h:8o/""#)],
            Bad(400, "source"),
        ),
        (Both, &[Set("source", r#""/a<b>""#)], Bad(400, "source")),
    ];
    run(table);
    let (h, b) = request(Wire::Structured, &[Set("source", r#""a b""#)]);
    assert_eq!(
        outcome(&h, b, &Limits::default()).unwrap_err().detail,
        "attribute 'source': must be a URI-reference (space at index 1 is not allowed in the path)"
    );
}

#[test]
fn dataschema_must_be_an_absolute_uri() {
    let table: &[Case] = &[
        (Both, &[Set("dataschema", r#""https://x.y/s.json""#)], Good),
        (
            Both,
            &[Set("dataschema", r#""urn:example:schema#v1""#)],
            Good,
        ),
        (S, &[Set("dataschema", "null")], Good),
        (Both, &[Set("dataschema", r#""""#)], Bad(400, "dataschema")),
        (
            Both,
            &[Set("dataschema", r#""relative/x""#)],
            Bad(400, "dataschema"),
        ),
        (
            Both,
            &[Set("dataschema", r#""/abs/path""#)],
            Bad(400, "dataschema"),
        ),
        (
            Both,
            &[Set("dataschema", r#""http ://x""#)],
            Bad(400, "dataschema"),
        ),
        (
            Both,
            &[Set("dataschema", r#""https://x/%zz""#)],
            Bad(400, "dataschema"),
        ),
        (S, &[Set("dataschema", "5")], Bad(400, "dataschema")),
    ];
    run(table);
}

#[test]
fn datacontenttype_must_be_a_media_type() {
    let table: &[Case] = &[
        (
            Both,
            &[Set("datacontenttype", r#""application/json""#)],
            Good,
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/plain; charset=\"utf-8\"""#)],
            Good,
        ),
        (
            Both,
            &[Set(
                "datacontenttype",
                r#""Application/Vnd.Example+JSON;v=2""#,
            )],
            Good,
        ),
        (S, &[Set("datacontenttype", "null")], Good),
        (
            Both,
            &[Set("datacontenttype", r#""text""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""te xt/plain""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/plain x""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/plain; charset""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/plain; =x""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            Both,
            &[Set("datacontenttype", r#""text/plain; a=\"open""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            S,
            &[Set("datacontenttype", r#""""#)],
            Bad(400, "datacontenttype"),
        ),
        (
            S,
            &[Set("datacontenttype", "5")],
            Bad(400, "datacontenttype"),
        ),
    ];
    run(table);
}

#[test]
fn subject_must_be_non_empty() {
    let table: &[Case] = &[
        (Both, &[Set("subject", r#""x""#)], Good),
        (S, &[Set("subject", "null")], Good),
        (Both, &[Set("subject", r#""""#)], Bad(400, "subject")),
        (S, &[Set("subject", "7")], Bad(400, "subject")),
        (S, &[Set("subject", "{}")], Bad(400, "subject")),
    ];
    run(table);
}

#[test]
fn time_must_be_rfc3339() {
    let table: &[Case] = &[
        (Both, &[Set("time", r#""2018-04-05T17:31:00Z""#)], Good),
        (
            Both,
            &[Set("time", r#""2018-04-05T17:31:00.123456+02:00""#)],
            Good,
        ),
        (Both, &[Set("time", r#""2018-04-05t17:31:00z""#)], Good),
        (Both, &[Set("time", r#""2016-02-29T23:59:60-05:30""#)], Good),
        (S, &[Set("time", "null")], Good),
        (
            Both,
            &[Set("time", r#""2018-04-05 17:31:00Z""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-04-05T17:31:00""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-13-05T17:31:00Z""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-02-30T17:31:00Z""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-04-05T24:00:00Z""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-04-05T17:31:00+0200""#)],
            Bad(400, "time"),
        ),
        (
            Both,
            &[Set("time", r#""2018-04-05T17:31:00.Z""#)],
            Bad(400, "time"),
        ),
        (Both, &[Set("time", r#""2018-04-05""#)], Bad(400, "time")),
        (Both, &[Set("time", r#""yesterday""#)], Bad(400, "time")),
        (Both, &[Set("time", r#""""#)], Bad(400, "time")),
        (S, &[Set("time", "1522949460")], Bad(400, "time")),
    ];
    run(table);
}

#[test]
fn extension_names() {
    let table: &[Case] = &[
        (Both, &[Set("a1", r#""x""#)], Good),
        (Both, &[Set("abcdefghijklmnopqrst", r#""x""#)], Good),
        (
            Both,
            &[Set("abcdefghijklmnopqrstu", r#""x""#)],
            Bad(400, "abcdefghijklmnopqrstu"),
        ),
        (Both, &[Set("my_ext", r#""x""#)], Bad(400, "my_ext")),
        (Both, &[Set("ext-1", r#""x""#)], Bad(400, "ext-1")),
        (Both, &[Set("ext.a", r#""x""#)], Bad(400, "ext.a")),
        (S, &[Set("MyExt", r#""x""#)], Bad(400, "MyExt")),
        (S, &[Set("Data", r#""x""#)], Bad(400, "Data")),
        (S, &[Set("caf\u{e9}", r#""x""#)], Bad(400, "caf\u{e9}")),
        (B, &[Set("data_base64", r#""x""#)], Bad(400, "data_base64")),
    ];
    run(table);
    // `ce-data` is the reserved name `data`, not the payload.
    let h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("ce-data", "x"),
    ]);
    let err = outcome(&h, Bytes::new(), &Limits::default()).unwrap_err();
    assert_eq!(
        (err.status(), err.attribute.as_deref()),
        (400, Some("data"))
    );
    // Header names are case-insensitive: ce-MyExt is the extension `myext`.
    let h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("Ce-MyExt", "x"),
    ]);
    let ev = outcome(&h, Bytes::new(), &Limits::default()).unwrap();
    assert_eq!(
        ev.extensions.get("myext"),
        Some(&ExtensionValue::String("x".into()))
    );
}

#[test]
fn extension_value_types() {
    let table: &[Case] = &[
        (Both, &[Set("ext", r#""123""#)], Good),
        (S, &[Set("ext", "true")], Good),
        (S, &[Set("ext", "false")], Good),
        (S, &[Set("ext", "2147483647")], Good),
        (S, &[Set("ext", "-2147483648")], Good),
        (S, &[Set("ext", "0")], Good),
        (S, &[Set("ext", "null")], Good),
        (S, &[Set("ext", "1.5")], Bad(400, "ext")),
        (S, &[Set("ext", "1e3")], Bad(400, "ext")),
        (S, &[Set("ext", "1.0")], Bad(400, "ext")),
        (S, &[Set("ext", "2147483648")], Bad(400, "ext")),
        (S, &[Set("ext", "-2147483649")], Bad(400, "ext")),
        (
            S,
            &[Set("ext", "123456789012345678901234567890")],
            Bad(400, "ext"),
        ),
        (S, &[Set("ext", "{}")], Bad(400, "ext")),
        (S, &[Set("ext", "[1]")], Bad(400, "ext")),
    ];
    run(table);
    let (h, b) = request(Wire::Structured, &[Set("ext", "1.5")]);
    assert_eq!(
        outcome(&h, b, &Limits::default()).unwrap_err().detail,
        "attribute 'ext': must be a string, a boolean or an integer between -2147483648 and \
         2147483647 (got the non-integer number 1.5)"
    );
    let (h, b) = request(
        Wire::Structured,
        &[
            Set("b", "true"),
            Set("i", "-7"),
            Set("s", r#""v""#),
            Set("n", "null"),
        ],
    );
    let ev = outcome(&h, b, &Limits::default()).unwrap();
    assert_eq!(
        ev.extensions.into_iter().collect::<Vec<_>>(),
        vec![
            ("b".to_owned(), ExtensionValue::Boolean(true)),
            ("i".to_owned(), ExtensionValue::Integer(-7)),
            ("s".to_owned(), ExtensionValue::String("v".into())),
        ]
    );
}

#[test]
fn null_means_unset_but_data_null_is_kept() {
    let (h, b) = request(
        Wire::Structured,
        &[
            Set("subject", "null"),
            Set("time", "null"),
            Set("ext", "null"),
            Set("data", "null"),
        ],
    );
    let ev = outcome(&h, b, &Limits::default()).unwrap();
    assert_eq!((ev.subject, ev.time, ev.extensions.len()), (None, None, 0));
    assert_eq!(ev.data, Some(Data::json(b"null").unwrap()));
}

#[test]
fn data_and_data_base64() {
    let table: &[Case] = &[
        (S, &[Set("data_base64", r#""AAEC/w==""#)], Good),
        (S, &[Set("data_base64", r#""AAEC/w""#)], Good),
        (
            S,
            &[Set("data_base64", "null"), Set("data", r#""x""#)],
            Good,
        ),
        (
            S,
            &[Set("data", "{}"), Set("data_base64", r#""AA==""#)],
            Bad(400, "data_base64"),
        ),
        (
            S,
            &[Set("data", "null"), Set("data_base64", r#""AA==""#)],
            Bad(400, "data_base64"),
        ),
        (
            S,
            &[Set("data_base64", r#""***""#)],
            Bad(400, "data_base64"),
        ),
        // Missing padding is tolerated, partial padding too (base64's "indifferent" mode).
        (S, &[Set("data_base64", r#""AAEC/w=""#)], Good),
        (
            S,
            &[Set("data_base64", r#""AAEC/w==x""#)],
            Bad(400, "data_base64"),
        ),
        (
            S,
            &[Set("data_base64", r#""AAEC /w==""#)],
            Bad(400, "data_base64"),
        ),
        (S, &[Set("data_base64", "5")], Bad(400, "data_base64")),
        (S, &[Set("data_base64", "[]")], Bad(400, "data_base64")),
        (Both, &[Set("data", r#"{"a":[1,2.5,"x"]}"#)], Good),
    ];
    run(table);
}

#[test]
fn malformed_json() {
    // Structured: the whole body.
    let h = header_map(&[("content-type", "application/cloudevents+json")]);
    let err = outcome(&h, Bytes::from_static(br#"{"id":"#), &Limits::default()).unwrap_err();
    assert_eq!(
        (
            err.status(),
            err.kind,
            err.attribute.as_deref(),
            err.position
        ),
        (400, ErrorKind::MalformedJson, None, Some((1, 6)))
    );
    assert_eq!(
        err.detail,
        "invalid JSON: EOF while parsing a value at line 1 column 6"
    );
    assert_eq!(err.slug(), "malformed-json");
    // Binary: a JSON body names `data`.
    let h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("content-type", "application/json"),
    ]);
    let err = outcome(
        &h,
        Bytes::from_static(b"{\"a\":\n  tru}"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        (err.status(), err.attribute.as_deref(), err.position),
        (400, Some("data"), Some((2, 6)))
    );
    // Structured: valid JSON that is not an object.
    let h = header_map(&[("content-type", "application/cloudevents+json")]);
    let err = outcome(&h, Bytes::from_static(b"[1]"), &Limits::default()).unwrap_err();
    assert_eq!(
        (err.status(), err.kind, err.attribute, err.detail.as_str()),
        (
            400,
            ErrorKind::Invalid,
            None,
            "an event must be a JSON object, not an array"
        )
    );
}

#[test]
fn duplicates_are_refused() {
    let h = header_map(&[("content-type", "application/cloudevents+json")]);
    let body = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","id":"2"}"#;
    let err = outcome(&h, Bytes::from(body), &Limits::default()).unwrap_err();
    assert_eq!((err.status(), err.attribute.as_deref()), (400, Some("id")));

    let base = [
        ("ce-specversion", "1.0"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ];
    for (extra, attr) in [
        (&[("ce-id", "1"), ("ce-id", "2")][..], "id"),
        (
            &[("ce-id", "1"), ("ce-ext", "a"), ("ce-ext", "b")][..],
            "ext",
        ),
        (
            &[
                ("ce-id", "1"),
                ("content-type", "text/plain"),
                ("content-type", "text/html"),
            ][..],
            "datacontenttype",
        ),
    ] {
        let h = header_map(&[&base[..], extra].concat());
        let err = outcome(&h, Bytes::new(), &Limits::default()).unwrap_err();
        assert_eq!(
            (err.status(), err.attribute.as_deref()),
            (400, Some(attr)),
            "{extra:?}"
        );
    }
}

#[test]
fn size_limit_per_event() {
    let limits = Limits {
        max_event_bytes: 300,
        ..Limits::default()
    };
    let big: &'static str = Box::leak(format!("\"{}\"", "a".repeat(400)).into_boxed_str());
    let near: &'static str = Box::leak(format!("\"{}\"", "a".repeat(250)).into_boxed_str());
    let ext: &'static str = Box::leak(format!("\"{}\"", "b".repeat(300)).into_boxed_str());
    let table: &[Case] = Box::leak(Box::new([
        (Both, &[Set("data", r#""small""#)][..], Good),
        (Both, Box::leak(Box::new([Set("data", big)])), TooBig),
        (Both, Box::leak(Box::new([Set("data", near)])), TooBig),
        (Both, Box::leak(Box::new([Set("ext", ext)])), TooBig),
    ]));
    run_with(table, &limits);
    let (h, b) = request(Wire::Binary, &[Set("data", near)]);
    let err = outcome(&h, b, &limits).unwrap_err();
    assert_eq!(
        (err.status(), err.slug(), err.detail.as_str()),
        (
            413,
            "event-too-large",
            "event of 373 bytes (structured JSON form) exceeds the limit of 300 bytes"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Modes and media types

fn mode(pairs: &[(&str, &str)]) -> Result<Mode, IngestError> {
    mode_of(&header_map(pairs))
}

#[test]
fn mode_from_headers() {
    let ok = [
        (
            &[("content-type", "application/cloudevents+json")][..],
            Mode::Structured,
        ),
        (
            &[(
                "content-type",
                "Application/CloudEvents+JSON; charset=UTF-8",
            )][..],
            Mode::Structured,
        ),
        (
            &[
                ("content-type", "application/cloudevents+json"),
                ("ce-id", "1"),
            ][..],
            Mode::Structured,
        ),
        (
            &[("content-type", "application/cloudevents-batch+json")][..],
            Mode::Batch,
        ),
        (
            &[(
                "content-type",
                "APPLICATION/CLOUDEVENTS-BATCH+JSON ; charset=\"utf-8\"",
            )][..],
            Mode::Batch,
        ),
        (&[("ce-specversion", "1.0")][..], Mode::Binary),
        (&[("ce-id", "1")][..], Mode::Binary),
        (
            &[
                ("content-type", "application/json"),
                ("ce-specversion", "1.0"),
            ][..],
            Mode::Binary,
        ),
        (
            &[
                ("content-type", "not a media type"),
                ("ce-specversion", "1.0"),
            ][..],
            Mode::Binary,
        ),
    ];
    for (headers, want) in ok {
        assert_eq!(mode(headers), Ok(want), "{headers:?}");
    }
    let unsupported = [
        &[("content-type", "application/cloudevents+xml")][..],
        &[
            ("content-type", "application/cloudevents+xml"),
            ("ce-specversion", "1.0"),
        ][..],
        &[("content-type", "application/cloudevents-batch+protobuf")][..],
        &[("content-type", "application/cloudevents")][..],
        &[(
            "content-type",
            "application/cloudevents+json; charset=latin1",
        )][..],
        &[("content-type", "text/plain")][..],
        &[("content-type", "application/json")][..],
        &[][..],
    ];
    for headers in unsupported {
        let err = mode(headers).unwrap_err();
        assert_eq!(
            (err.status(), err.slug(), err.attribute.as_deref()),
            (415, "unsupported-media-type", None),
            "{headers:?}"
        );
    }
    assert_eq!(
        mode(&[("content-type", "application/cloudevents+xml")])
            .unwrap_err()
            .detail,
        "event format application/cloudevents+xml is not supported: only \
         application/cloudevents+json (structured mode) and application/cloudevents-batch+json \
         (batch mode) are"
    );
    assert_eq!(
        mode(&[("content-type", "text/plain")]).unwrap_err().detail,
        "not a CloudEvent (Content-Type text/plain and no ce- headers): send ce-specversion, \
         ce-id, ce-source and ce-type headers (binary mode), or Content-Type \
         application/cloudevents+json (structured mode) or application/cloudevents-batch+json \
         (batch mode)"
    );
}

#[test]
fn body_limits_per_mode() {
    let l = Limits::default();
    assert_eq!(
        (l.max_event_bytes, l.max_batch_bytes, l.max_batch_events),
        (1 << 20, 10 << 20, 1000)
    );
    assert_eq!(body_limit(Mode::Binary, &l), 1 << 20);
    assert_eq!(body_limit(Mode::Structured, &l), 1 << 20);
    assert_eq!(body_limit(Mode::Batch, &l), 10 << 20);
}

#[test]
fn binary_content_type_and_ce_datacontenttype() {
    let base = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ];
    let run = |extra: &[(&str, &str)]| {
        let h = header_map(&[&base[..], extra].concat());
        outcome(&h, Bytes::new(), &Limits::default())
    };
    let ev = run(&[("ce-datacontenttype", "text/plain%3B charset=utf-8")]).unwrap();
    assert_eq!(
        ev.datacontenttype.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let ev = run(&[
        ("content-type", "Text/Plain"),
        ("ce-datacontenttype", "text/plain"),
    ])
    .unwrap();
    assert_eq!(ev.datacontenttype.as_deref(), Some("Text/Plain"));
    let err = run(&[
        ("content-type", "text/plain"),
        ("ce-datacontenttype", "text/html"),
    ])
    .unwrap_err();
    assert_eq!(
        (err.status(), err.attribute.as_deref()),
        (400, Some("datacontenttype"))
    );
    assert_eq!(
        err.detail,
        "attribute 'datacontenttype': Content-Type \"text/plain\" and ce-datacontenttype \
         \"text/html\" disagree"
    );
    let err = run(&[
        ("content-type", "text/plain"),
        ("ce-datacontenttype", "nope"),
    ])
    .unwrap_err();
    assert_eq!(
        (err.status(), err.attribute.as_deref()),
        (400, Some("datacontenttype"))
    );
}

// ---------------------------------------------------------------------------------------------
// Percent-decoding of binary-mode headers

#[test]
fn percent_decoding() {
    let cases: [(&[u8], Option<&str>); 9] = [
        (b"a%20b", Some("a b")),
        (b"%E2%82%AC", Some("\u{20ac}")),
        (b"%e2%82%ac", Some("\u{20ac}")),
        (b"100%", Some("100%")),
        (b"100% sure", Some("100% sure")),
        (b"a%4", Some("a%4")),
        (b"%ZZ", Some("%ZZ")),
        (b"%FF", None),
        (b"%E2%82", None),
    ];
    for (raw, want) in cases {
        let got = percent::decode(raw).ok();
        assert_eq!(got.as_deref(), want, "{:?}", String::from_utf8_lossy(raw));
    }
    assert_eq!(
        percent::decode(b"ab%FF"),
        Err(percent::NotUtf8 { index: 2 })
    );
    assert_eq!(percent::encode("a b\"%\u{20ac}~"), "a%20b%22%25%E2%82%AC~");
    for s in ["plain", "", "sp ace", "100%", "\u{1F600} \"q\""] {
        assert_eq!(percent::decode(percent::encode(s).as_bytes()).unwrap(), s);
    }
}

#[test]
fn percent_decoding_in_binary_mode() {
    let h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("ce-subject", "a%20b%E2%82%AC 100%"),
        ("ce-ext", "%4"),
    ]);
    let ev = outcome(&h, Bytes::new(), &Limits::default()).unwrap();
    assert_eq!(ev.subject.as_deref(), Some("a b\u{20ac} 100%"));
    assert_eq!(
        ev.extensions.get("ext"),
        Some(&ExtensionValue::String("%4".into()))
    );

    let h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("ce-subject", "x%FF"),
    ]);
    let err = outcome(&h, Bytes::new(), &Limits::default()).unwrap_err();
    assert_eq!(
        (err.status(), err.attribute.as_deref()),
        (400, Some("subject"))
    );
    assert_eq!(
        err.detail,
        "attribute 'subject': the header ce-subject is not UTF-8 once percent-decoded (invalid \
         byte at index 1 of the decoded value)"
    );
}

// ---------------------------------------------------------------------------------------------
// Body handling and round trips

fn binary(content_type: Option<&str>, body: &[u8]) -> Event {
    let mut h = header_map(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ]);
    if let Some(ct) = content_type {
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    outcome(&h, Bytes::copy_from_slice(body), &Limits::default()).unwrap()
}

fn json_text(data: &Option<Data>) -> &str {
    match data {
        Some(Data::Json(raw)) => raw.get(),
        other => panic!("expected JSON data, got {other:?}"),
    }
}

/// The structured form decodes to the same event, and re-encodes to the same bytes.
fn assert_round_trip(ev: &Event) {
    let bytes = ev.to_structured_json();
    assert_eq!(ev.encoded_len(), bytes.len());
    let back = Event::from_structured_json(&bytes).unwrap();
    assert_eq!(&back, ev);
    assert_eq!(back.to_structured_json(), bytes);
}

#[test]
fn binary_body_json_is_kept_raw() {
    let body = br#"{"price": 1.50, "list":[1e3, "\u00e9\/"], "nested": {"z":null}}"#;
    for ct in [
        "application/json",
        "application/vnd.example+json; v=2",
        "Text/JSON",
    ] {
        let ev = binary(Some(ct), body);
        assert_eq!(json_text(&ev.data).as_bytes(), body);
        assert_round_trip(&ev);
    }
    // A JSON string or number body is JSON data too.
    assert_eq!(
        json_text(&binary(Some("application/json"), b"\"hi\"").data),
        "\"hi\""
    );
    assert_eq!(
        json_text(&binary(Some("application/json"), b"42").data),
        "42"
    );
}

#[test]
fn binary_body_text_is_a_json_string() {
    let text = "line 1\nline \"2\"\t\\ caf\u{e9} \u{1F600}\u{1}";
    for ct in [
        "text/plain; charset=utf-8",
        "application/xml",
        "image/svg+xml",
        "TEXT/CSV",
    ] {
        let ev = binary(Some(ct), text.as_bytes());
        let raw = json_text(&ev.data);
        let decoded: String = serde_json::from_str(raw).unwrap();
        assert_eq!(decoded, text, "{ct}");
        assert_round_trip(&ev);
    }
    // Text that is not UTF-8 stays bytes.
    let ev = binary(Some("text/plain"), b"caf\xe9");
    assert_eq!(ev.data, Some(Data::Binary(b"caf\xe9".to_vec())));
}

#[test]
fn binary_body_bytes_are_kept_exactly() {
    let all: Vec<u8> = (0..=255u8).collect();
    for ct in [None, Some("application/octet-stream"), Some("image/png")] {
        let ev = binary(ct, &all);
        assert_eq!(ev.data, Some(Data::Binary(all.clone())));
        let json: serde_json::Value = serde_json::from_slice(&ev.to_structured_json()).unwrap();
        let b64 = json["data_base64"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            all
        );
        assert_round_trip(&ev);
    }
    // An empty body is no data at all.
    assert_eq!(binary(Some("application/json"), b"").data, None);
    assert_eq!(binary(None, b"").data, None);
}

#[test]
fn structured_round_trips() {
    let all: Vec<u8> = (0..=255u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&all);
    let bodies = [
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"a": [1, 2.50, {"b": null}], "c": "\u00e9"}}"#.to_owned(),
        r#"{"specversion":"1.0","id":"2","source":"urn:x","type":"t","data":"just a string"}"#.to_owned(),
        r#"{"specversion":"1.0","id":"3","source":"/s","type":"t","data":null}"#.to_owned(),
        format!(r#"{{"specversion":"1.0","id":"4","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"{b64}"}}"#),
        r#"{"specversion":"1.0","id":"5","source":"/s","type":"t","s":"str","i":-2147483648,"j":2147483647,"b":true,"f":false}"#.to_owned(),
        r#"{"specversion":"1.0","id":"6","source":"/s","type":"t","subject":"x","time":"2018-04-05T17:31:00.123456+02:00"}"#.to_owned(),
        r#"{"specversion":"1.0","id":"7","source":"/s","type":"t","dataschema":"https://s/x#1","time":"2018-04-05t17:31:00-05:30"}"#.to_owned(),
    ];
    let h = header_map(&[("content-type", "application/cloudevents+json")]);
    for body in bodies {
        let ev = outcome(&h, Bytes::from(body.clone()), &Limits::default()).unwrap();
        assert_round_trip(&ev);
        // These bodies are already in canonical order and form, so they come back byte-exact.
        let canonical = String::from_utf8(ev.to_structured_json()).unwrap();
        if !body.contains("\"s\":\"str\"") {
            assert_eq!(canonical, body);
        }
    }
    let ev = outcome(
        &h,
        Bytes::from(format!(
            r#"{{"specversion":"1.0","id":"4","source":"/s","type":"t","data_base64":"{b64}"}}"#
        )),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(ev.data, Some(Data::Binary(all)));
    let ev = outcome(
        &h,
        Bytes::from(r#"{"specversion":"1.0","id":"6","source":"/s","type":"t","time":"2018-04-05t17:31:00-05:30"}"#),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(ev.time.as_deref(), Some("2018-04-05t17:31:00-05:30"));
}

// ---------------------------------------------------------------------------------------------
// Batch mode

fn batch(body: &str, limits: &Limits) -> Result<Vec<Result<Event, EntryError>>, IngestError> {
    let h = header_map(&[("content-type", "application/cloudevents-batch+json")]);
    match decode(mode_of(&h)?, &h, Bytes::from(body.to_owned()), limits)? {
        Decoded::Batch(entries) => Ok(entries),
        Decoded::Single(ev) => panic!("batch decoded as single {ev:?}"),
    }
}

/// The id of an accepted entry, or (index, status, attribute) of a refused one.
type EntrySummary = Result<String, (usize, u16, Option<String>)>;

#[test]
fn batch_entries_are_independent() {
    let limits = Limits {
        max_event_bytes: 200,
        ..Limits::default()
    };
    let body = format!(
        r#"[
            {{"specversion":"1.0","id":"a","source":"/s","type":"t"}},
            {{"specversion":"1.0","id":"","source":"/s","type":"t"}},
            42,
            {{"specversion":"1.0","id":"c","source":"/s","type":"t","data":"{}"}},
            {{"specversion":"1.0","id":"d","source":"/s","type":"t","time":"now"}},
            {{"specversion":"1.0","id":"e","source":"/s","type":"t"}}
        ]"#,
        "x".repeat(300)
    );
    let entries = batch(&body, &limits).unwrap();
    let summary: Vec<EntrySummary> = entries
        .into_iter()
        .map(|r| {
            r.map(|ev| ev.id)
                .map_err(|e| (e.index, e.error.status(), e.error.attribute))
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            Ok("a".to_owned()),
            Err((1, 400, Some("id".to_owned()))),
            Err((2, 400, None)),
            Err((3, 413, None)),
            Err((4, 400, Some("time".to_owned()))),
            Ok("e".to_owned()),
        ]
    );
}

#[test]
fn batch_whole_request_errors() {
    let l = Limits::default();
    assert_eq!(batch("[]", &l).unwrap(), vec![]);
    assert_eq!(batch(" [ ] \n", &l).unwrap(), vec![]);

    let err = batch(r#"{"specversion":"1.0"}"#, &l).unwrap_err();
    assert_eq!(
        (err.status(), err.kind, err.attribute),
        (400, ErrorKind::Invalid, None)
    );
    assert_eq!(
        err.detail,
        "a batch must be a JSON array of events, not an object (send a single event with \
         Content-Type application/cloudevents+json)"
    );
    let err = batch("[{}, ", &l).unwrap_err();
    assert_eq!(
        (err.status(), err.kind, err.position),
        (400, ErrorKind::MalformedJson, Some((1, 5)))
    );
    let err = batch("[] x", &l).unwrap_err();
    assert_eq!(
        (err.kind, err.position),
        (ErrorKind::MalformedJson, Some((1, 4)))
    );

    let small = Limits {
        max_batch_events: 2,
        ..Limits::default()
    };
    let ev = r#"{"specversion":"1.0","id":"a","source":"/s","type":"t"}"#;
    assert_eq!(batch(&format!("[{ev},{ev}]"), &small).unwrap().len(), 2);
    let err = batch(&format!("[{ev},{ev},{ev},1,2]"), &small).unwrap_err();
    assert_eq!((err.status(), err.slug()), (413, "event-too-large"));
    assert_eq!(
        err.detail,
        "batch of 5 events exceeds the limit of 2 events per request"
    );

    let tiny = Limits {
        max_batch_bytes: 10,
        ..Limits::default()
    };
    let err = batch(&format!("[{ev}]"), &tiny).unwrap_err();
    assert_eq!(err.status(), 413);
    assert_eq!(
        err.detail,
        "batch of 57 bytes exceeds the limit of 10 bytes"
    );
}

#[test]
fn entry_error_display() {
    let l = Limits::default();
    let entries = batch(
        r#"[{"specversion":"1.0","id":"1","source":"a b","type":"t"}]"#,
        &l,
    )
    .unwrap();
    let err = entries[0].as_ref().unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry 0: attribute 'source': must be a URI-reference (space at index 1 is not allowed \
         in the path)"
    );
    assert!(std::error::Error::source(&err.error).is_some());
}

#[test]
fn binary_body_without_content_type_is_json_when_it_parses() {
    // The Python SDK sends JSON data in binary mode with no Content-Type.
    let ev = binary(None, br#"{"message": "Hello"}"#);
    assert_eq!(json_text(&ev.data), r#"{"message": "Hello"}"#);
    assert_eq!(ev.datacontenttype, None);
    assert_round_trip(&ev);
    // Not JSON: kept as bytes.
    let ev = binary(None, b"{not json");
    assert_eq!(ev.data, Some(Data::Binary(b"{not json".to_vec())));
}
