#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn raw(s: &str) -> JsonText {
    JsonText::parse(bytes::Bytes::copy_from_slice(s.as_bytes())).unwrap()
}

fn full_event() -> Event {
    let mut ev = Event::new("id-1", "https://example.com/src", "com.example.created");
    ev.datacontenttype = Some("application/json".into());
    ev.dataschema = Some("https://example.com/schema#v1".into());
    ev.subject = Some("sub \"quoted\" \\ \n\t\u{1}\u{7f} caf\u{e9} \u{1F600}".into());
    ev.time = Some("2018-04-05T17:31:00.123456+02:00".into());
    ev.extensions
        .insert("aaa".into(), ExtensionValue::String("x\u{0}y".into()));
    ev.extensions
        .insert("num".into(), ExtensionValue::Integer(-2147483648));
    ev.extensions
        .insert("flag".into(), ExtensionValue::Boolean(false));
    ev.extensions
        .insert("yes".into(), ExtensionValue::Boolean(true));
    ev.data = Some(Data::Json(raw(r#"{"b": 1.50, "a":[1e3, "\u00e9"]}"#)));
    ev
}

#[test]
fn encodes_in_fixed_order() {
    let mut ev = Event::new("1", "/s", "t");
    ev.time = Some("2018-04-05t17:31:00z".into());
    ev.subject = Some("s".into());
    ev.extensions
        .insert("zz".into(), ExtensionValue::Integer(7));
    ev.extensions
        .insert("ab".into(), ExtensionValue::String("v".into()));
    ev.data = Some(Data::Json(raw("null")));
    assert_eq!(
        String::from_utf8(ev.to_structured_json()).unwrap(),
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"s","time":"2018-04-05t17:31:00z","ab":"v","zz":7,"data":null}"#
    );
    ev.data = Some(Data::Binary(vec![0, 1, 2, 255]));
    assert!(
        String::from_utf8(ev.to_structured_json())
            .unwrap()
            .ends_with(r#""zz":7,"data_base64":"AAEC/w=="}"#)
    );
}

#[test]
fn round_trips_and_encoded_len_is_exact() {
    let mut events = vec![full_event(), Event::new("a", "b", "c")];
    let mut bin = full_event();
    bin.data = Some(Data::Binary((0..=255u8).collect()));
    events.push(bin);
    for n in 0..5 {
        let mut e = Event::new("x", "/y", "z");
        e.data = Some(Data::Binary(vec![7; n]));
        events.push(e);
    }
    let mut e = Event::new("x", "/y", "z");
    e.extensions
        .insert("big".into(), ExtensionValue::Integer(i64::from(i32::MAX)));
    e.extensions
        .insert("zero".into(), ExtensionValue::Integer(0));
    events.push(e);
    let mut e = Event::new("x", "/y", "z");
    e.subject = Some((0u8..0x20).map(char::from).collect());
    events.push(e);

    for ev in events {
        ev.validate().unwrap();
        let bytes = ev.to_structured_json();
        assert_eq!(
            ev.encoded_len(),
            bytes.len(),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let back = Event::from_structured_json(&bytes).unwrap();
        assert_eq!(back, ev);
        assert_eq!(back.to_structured_json(), bytes);
    }
}

#[test]
fn data_is_kept_byte_exact() {
    let body = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data": {"n": 1.0e2 , "s":"\u00e9\/"} }"#;
    let ev = Event::from_structured_json(body).unwrap();
    assert_eq!(
        ev.data,
        Some(Data::Json(raw(r#"{"n": 1.0e2 , "s":"\u00e9\/"}"#)))
    );
}

#[test]
fn nulls_mean_unset_except_data() {
    let ev = Event::from_structured_json(
        br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"time":null,
            "datacontenttype":null,"dataschema":null,"ext":null,"data_base64":null,"data":null}"#,
    )
    .unwrap();
    let mut want = Event::new("1", "/s", "t");
    want.data = Some(Data::Json(raw("null")));
    assert_eq!(ev, want);
}

#[test]
fn escaped_member_names_and_values() {
    let ev = Event::from_structured_json(
        br#"{"specversion":"1.0","\u0069d":"a\"b","source":"/s","type":"t","\u0065xt":"\u20ac"}"#,
    )
    .unwrap();
    assert_eq!(ev.id, "a\"b");
    assert_eq!(
        ev.extensions.get("ext"),
        Some(&ExtensionValue::String("\u{20ac}".into()))
    );
}

#[test]
fn data_base64_padding_is_optional() {
    for b64 in ["AAEC/w==", "AAEC/w"] {
        let body = format!(
            r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"{b64}"}}"#
        );
        let ev = Event::from_structured_json(body.as_bytes()).unwrap();
        assert_eq!(ev.data, Some(Data::Binary(vec![0, 1, 2, 255])));
    }
}

#[test]
fn errors_name_the_attribute() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#,
            "id",
            "appears more than once in the event object",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"a b","type":"t"}"#,
            "source",
            "must be a URI-reference (space at index 1 is not allowed in the path)",
        ),
        (
            r#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#,
            "specversion",
            "unsupported specversion \"0.3\": only 1.0 is supported",
        ),
        (
            r#"{"specversion":"1.0","id":null,"source":"/s","type":"t"}"#,
            "id",
            "is required",
        ),
        (
            r#"{"specversion":"1.0","id":1,"source":"/s","type":"t"}"#,
            "id",
            "must be a string (got a number)",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","x":1.5}"#,
            "x",
            "must be a string, a boolean or an integer between -2147483648 and 2147483647 \
             (got the non-integer number 1.5)",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","x":99999999999999999999}"#,
            "x",
            "must be a string, a boolean or an integer between -2147483648 and 2147483647 \
             (got 99999999999999999999)",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"*"}"#,
            "data_base64",
            "must be standard base64 (RFC 4648 §4, padding optional): Invalid symbol 42, offset 0.",
        ),
        (r#"[1]"#, "", "an event must be a JSON object, not an array"),
    ];
    for (body, attribute, reason) in cases {
        let err = Event::from_structured_json(body.as_bytes()).unwrap_err();
        assert_eq!(
            (err.attribute.as_str(), err.reason.as_str(), err.position),
            (*attribute, *reason, None),
            "{body}"
        );
    }
}

#[test]
fn syntax_errors_carry_position() {
    let err = Event::from_structured_json(b"{\n  \"id\": \"1\",\n  oops\n}").unwrap_err();
    assert_eq!(err.attribute, "");
    assert_eq!(err.position, Some((3, 3)));
    assert_eq!(
        err.reason,
        "invalid JSON: key must be a string at line 3 column 3"
    );
    assert_eq!(
        err.to_string(),
        "invalid JSON: key must be a string at line 3 column 3"
    );
}

#[test]
fn display_names_the_attribute() {
    let err = EventError::new(
        "source",
        "must be a URI-reference (space at index 3 is not allowed)",
    );
    assert_eq!(
        err.to_string(),
        "attribute 'source': must be a URI-reference (space at index 3 is not allowed)"
    );
}

#[test]
fn validate_checks_constructed_events() {
    let mut ev = Event::new("1", "/s", "t");
    ev.extensions
        .insert("n".into(), ExtensionValue::Integer(1 << 31));
    assert_eq!(ev.validate().unwrap_err().attribute, "n");
    let mut ev = Event::new("1", "/s", "t");
    ev.extensions
        .insert("Bad".into(), ExtensionValue::Boolean(true));
    assert_eq!(ev.validate().unwrap_err().attribute, "Bad");
    let mut ev = Event::new("1", "/s", "t");
    ev.specversion = String::new();
    assert_eq!(ev.validate().unwrap_err().attribute, "specversion");
}

#[test]
fn extension_value_display() {
    assert_eq!(ExtensionValue::Integer(-5).to_string(), "-5");
    assert_eq!(ExtensionValue::Boolean(true).to_string(), "true");
    assert_eq!(ExtensionValue::String("a b".into()).to_string(), "a b");
}
