//! Slack requests as CloudEvents (api.slack.com: "Verifying requests from Slack", the Events API,
//! slash commands, interactivity).
//!
//! One signing secret covers everything Slack sends to an app, so one `slack` source takes all
//! three request shapes; the signature (`v0` over `v0:<timestamp>:<body>`) is checked first for
//! each, including the `url_verification` handshake.
//!
//! Events API (`application/json`, an envelope):
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `event_id` (`Ev…`; Slack's retries keep it) |
//! | `type` | `com.slack.<event.type>`: `com.slack.message`, `com.slack.app_mention` |
//! | `source` | `https://slack.com/team/<team_id>` (else `https://slack.com`) |
//! | `subject` | the channel: `event.channel`, `event.channel.id` or `event.item.channel`, else absent |
//! | `time` | `event_time` (Unix seconds) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the envelope, byte for byte |
//! | `slackappid` | `api_app_id` |
//!
//! - `url_verification` is answered 200 `{"challenge":"…"}` (JSON) and stores nothing.
//! - `app_rate_limited` (Slack dropped events for a minute) becomes `com.slack.app_rate_limited`
//!   with id `app_rate_limited:<team_id>:<minute_rate_limited>`, so an operator can see it.
//! - Any other envelope type is a 400.
//!
//! Slash commands and interactivity (`application/x-www-form-urlencoded`) are mapped too, rather
//! than refused, because they come signed with the same secret to the same app and are as much
//! events as a message is. They have no event id; the `trigger_id` Slack gives each invocation
//! is the id, else the hex SHA-256 of the body (an identical retry then deduplicates):
//!
//! | attribute | slash command (`command=…`) | interaction (`payload=<json>`) |
//! | --- | --- | --- |
//! | `type` | `com.slack.command` | `com.slack.interaction.<payload.type>` (`block_actions`, `view_submission`, …) |
//! | `source` | `https://slack.com/team/<team_id>` | `https://slack.com/team/<team.id>` |
//! | `subject` | `channel_id` | `channel.id`, else `container.channel_id`, else absent |
//! | `time` | `X-Slack-Request-Timestamp` | `X-Slack-Request-Timestamp` |
//! | `data` | the form fields as a JSON object of strings, without the deprecated verification `token` | the `payload` JSON, verbatim |
//!
//! Slack shows a slash command's response body to the user and reads a modal submission's as a
//! `response_action`, so the server answers every `slack` delivery 200 with an empty body
//! ([`super::Provider::quiet_ack`]); the Events API ignores the body anyway. Note that Slack's
//! JSON payloads still carry the deprecated verification `token`; it is kept, to keep `data`
//! byte-exact.
//!
//! Options: `tolerance` (seconds or a duration; default 300 s, the five minutes Slack
//! recommends; at most 1 h).

use bus::event::{Data, Event, ExtensionValue};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::spec::Opts;
use super::{
    MapError, Outcome, Request, SpecError, WebhookError, json_object, map_header, type_segment,
    unix_time, verify, verify_header,
};
use crate::ingest::percent;

/// The options of a `slack` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seconds between `X-Slack-Request-Timestamp` and now beyond which a request is refused.
    pub tolerance: i64,
}

impl Options {
    pub(super) fn parse(opts: &mut Opts) -> Result<Options, SpecError> {
        Ok(Options {
            tolerance: opts.tolerance()?,
        })
    }

    /// Verifies `X-Slack-Signature` and the timestamp, then maps.
    pub(super) fn receive(&self, key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
        verify::slack(
            key,
            req.body,
            verify_header(req, "X-Slack-Signature")?,
            verify_header(req, "X-Slack-Request-Timestamp")?,
            req.now,
            self.tolerance,
        )?;
        Ok(map(req)?)
    }
}

fn team_source(team: Option<&str>) -> String {
    match team.filter(|t| type_segment(t)) {
        Some(t) => format!("https://slack.com/team/{t}"),
        None => "https://slack.com".to_owned(),
    }
}

fn is_form(req: &Request<'_>) -> Result<bool, MapError> {
    Ok(map_header(req, "Content-Type")?.is_some_and(|c| {
        c.split(';').next().is_some_and(|e| {
            e.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    }))
}

fn map(req: &Request<'_>) -> Result<Outcome, MapError> {
    if is_form(req)? {
        return form(req);
    }
    let (envelope, data) = json_object(req.body)?;
    let str_of =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = str_of(&envelope, "type").unwrap_or_default();
    let team = str_of(&envelope, "team_id");
    let mut ev = match kind.as_str() {
        "url_verification" => {
            let challenge = envelope
                .get("challenge")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    MapError::Payload("is a url_verification without a challenge".into())
                })?;
            let body = serde_json::json!({ "challenge": challenge }).to_string();
            return Ok(Outcome::Reply {
                status: 200,
                content_type: "application/json",
                body: Bytes::from(body),
            });
        }
        "event_callback" => {
            let id = str_of(&envelope, "event_id")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    MapError::Payload("is an event_callback without an event_id".into())
                })?;
            let inner = envelope.get("event").unwrap_or(&Value::Null);
            let ty = inner
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| type_segment(t))
                .ok_or_else(|| MapError::Payload("has no event.type".into()))?;
            let mut ev = Event::new(id, team_source(team.as_deref()), format!("com.slack.{ty}"));
            ev.subject = inner
                .get("channel")
                .and_then(|c| c.as_str().or_else(|| c.get("id").and_then(Value::as_str)))
                .or_else(|| inner.pointer("/item/channel").and_then(Value::as_str))
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            ev.time = envelope
                .get("event_time")
                .and_then(Value::as_i64)
                .and_then(unix_time);
            ev
        }
        "app_rate_limited" => {
            let minute = envelope
                .get("minute_rate_limited")
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    MapError::Payload("is an app_rate_limited without minute_rate_limited".into())
                })?;
            let team_id = team.clone().unwrap_or_default();
            let mut ev = Event::new(
                format!("app_rate_limited:{team_id}:{minute}"),
                team_source(team.as_deref()),
                "com.slack.app_rate_limited",
            );
            ev.time = unix_time(minute);
            ev
        }
        other => {
            return Err(MapError::Payload(format!(
                "has the envelope type {other:?}; Railyard maps event_callback, url_verification \
                 and app_rate_limited"
            )));
        }
    };
    ev.datacontenttype = Some("application/json".into());
    ev.data = Some(data);
    app_id(&mut ev, envelope.get("api_app_id").and_then(Value::as_str));
    Ok(Outcome::Events(vec![ev]))
}

fn app_id(ev: &mut Event, id: Option<&str>) {
    if let Some(a) = id.filter(|a| !a.is_empty()) {
        ev.extensions
            .insert("slackappid".into(), ExtensionValue::String(a.to_owned()));
    }
}

/// `application/x-www-form-urlencoded`: `+` is a space, then percent-decoding; UTF-8.
fn form_fields(body: &[u8]) -> Result<Vec<(String, String)>, MapError> {
    let decode = |raw: &[u8]| -> Result<String, MapError> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent::decode(&spaced)
            .map(|c| c.into_owned())
            .map_err(|_| MapError::Payload("is a form whose fields are not UTF-8".into()))
    };
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn body_digest(body: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Slash commands and interactions.
fn form(req: &Request<'_>) -> Result<Outcome, MapError> {
    let fields = form_fields(req.body)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // The timestamp was verified (and signed), so it parses.
    let time = verify_time(req);
    let mut ev = if let Some(payload) = field("payload") {
        let (p, data) = json_object(&Bytes::copy_from_slice(payload.as_bytes()))?;
        let p = Value::Object(p);
        let kind = p
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| type_segment(t))
            .ok_or_else(|| MapError::Payload("is an interaction payload without a type".into()))?;
        let id = p
            .get("trigger_id")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map_or_else(|| body_digest(req.body), str::to_owned);
        let team = p.pointer("/team/id").and_then(Value::as_str);
        let mut ev = Event::new(
            id,
            team_source(team),
            format!("com.slack.interaction.{kind}"),
        );
        ev.subject = p
            .pointer("/channel/id")
            .or_else(|| p.pointer("/container/channel_id"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        app_id(&mut ev, p.get("api_app_id").and_then(Value::as_str));
        ev.data = Some(data);
        ev
    } else if field("command").is_some() {
        let id = field("trigger_id")
            .filter(|t| !t.is_empty())
            .map_or_else(|| body_digest(req.body), str::to_owned);
        let mut ev = Event::new(id, team_source(field("team_id")), "com.slack.command");
        ev.subject = field("channel_id")
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        app_id(&mut ev, field("api_app_id"));
        let object: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| k != "token")
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let json = Value::Object(object).to_string();
        ev.data = Some(Data::json(json.as_bytes()).map_err(|e| MapError::Payload(e.to_string()))?);
        ev
    } else {
        return Err(MapError::Payload(
            "is a form that is neither a slash command (no command field) nor an interaction \
             (no payload field)"
                .into(),
        ));
    };
    ev.time = time;
    ev.datacontenttype = Some("application/json".into());
    Ok(Outcome::Events(vec![ev]))
}

fn verify_time(req: &Request<'_>) -> Option<String> {
    map_header(req, "X-Slack-Request-Timestamp")
        .ok()
        .flatten()
        .and_then(|t| t.trim().parse().ok())
        .and_then(unix_time)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    /// The signing secret of Slack's worked example.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1_531_420_618;

    fn delivery(body: &'static [u8], content_type: &str) -> Delivery {
        let sig = hmac_sha256_hex(
            SECRET.as_bytes(),
            &[b"v0:", TS.to_string().as_bytes(), b":", body],
        );
        let mut d = Delivery::new(body);
        d.header("X-Slack-Signature", &format!("v0={sig}"))
            .header("X-Slack-Request-Timestamp", &TS.to_string())
            .header("Content-Type", content_type);
        d.now = TS + 2;
        d
    }

    const MESSAGE: &[u8] = br#"{"token":"XXYYZZ","team_id":"T123ABC456","api_app_id":"A123ABC456","event":{"type":"message","channel":"C123ABC456","user":"U123ABC456","text":"hi","ts":"1355517523.000005","event_ts":"1355517523.000005","channel_type":"channel"},"type":"event_callback","authorizations":[],"event_id":"Ev123ABC456","event_time":1355517523}"#;

    #[test]
    fn events_api() {
        let p = provider("slack", "{}");
        let ev = one_event(&p, SECRET, &delivery(MESSAGE, "application/json"));
        assert_eq!(ev.id, "Ev123ABC456");
        assert_eq!(ev.ty, "com.slack.message");
        assert_eq!(ev.source, "https://slack.com/team/T123ABC456");
        assert_eq!(ev.subject.as_deref(), Some("C123ABC456"));
        assert_eq!(ev.time.as_deref(), Some("2012-12-14T20:38:43Z"));
        assert_eq!(
            ev.extensions["slackappid"],
            ExtensionValue::String("A123ABC456".into())
        );
        assert_eq!(data_bytes(&ev), MESSAGE);
        let reaction = br#"{"team_id":"T1","type":"event_callback","event_id":"Ev2","event_time":1700000000,"event":{"type":"reaction_added","item":{"type":"message","channel":"C9","ts":"1.2"}}}"#;
        let ev = one_event(&p, SECRET, &delivery(reaction, "application/json"));
        assert_eq!(ev.ty, "com.slack.reaction_added");
        assert_eq!(ev.subject.as_deref(), Some("C9"));
        let created = br#"{"team_id":"T1","type":"event_callback","event_id":"Ev3","event_time":1700000000,"event":{"type":"channel_created","channel":{"id":"C7","name":"x"}}}"#;
        assert_eq!(
            one_event(&p, SECRET, &delivery(created, "application/json"))
                .subject
                .as_deref(),
            Some("C7")
        );
        let limited = br#"{"token":"t","type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820,"api_app_id":"A1"}"#;
        let ev = one_event(&p, SECRET, &delivery(limited, "application/json"));
        assert_eq!(ev.ty, "com.slack.app_rate_limited");
        assert_eq!(ev.id, "app_rate_limited:T1:1518467820");
        assert!(p.quiet_ack());
    }

    #[test]
    fn url_verification() {
        let p = provider("slack", "{}");
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        match receive_with(&p, SECRET, &delivery(body, "application/json")).unwrap() {
            Outcome::Reply {
                status,
                content_type,
                body,
            } => {
                assert_eq!(status, 200);
                assert_eq!(content_type, "application/json");
                assert_eq!(
                    &body[..],
                    br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#
                );
            }
            Outcome::Events(_) => panic!("a handshake stores nothing"),
        }
        // The handshake is verified like anything else.
        assert_status(&p, "wrong", &delivery(body, "application/json"), 401);
    }

    #[test]
    fn slash_command_from_slacks_worked_example() {
        // The body of Slack's "Verifying requests from Slack" example, with its signature.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let mut d = Delivery::new(body);
        d.header(
            "X-Slack-Signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        )
        .header("X-Slack-Request-Timestamp", "1531420618")
        .header("Content-Type", "application/x-www-form-urlencoded");
        d.now = TS + 60;
        let p = provider("slack", "{}");
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(ev.ty, "com.slack.command");
        assert_eq!(
            ev.id,
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        );
        assert_eq!(ev.source, "https://slack.com/team/T1DC2JH3J");
        assert_eq!(ev.subject.as_deref(), Some("G8PSS9T3V"));
        assert_eq!(ev.time.as_deref(), Some("2018-07-12T18:36:58Z"));
        let data: Value = serde_json::from_slice(&data_bytes(&ev)).unwrap();
        assert_eq!(data["command"], "/webhook-collect");
        assert_eq!(
            data["response_url"],
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
        );
        assert_eq!(data.get("token"), None, "the verification token is dropped");
        // Six minutes later the same request is a replay.
        d.now = TS + 360;
        assert_verify(&p, SECRET, &d, |e| {
            matches!(e, verify::VerifyError::Stale { .. })
        });
    }

    #[test]
    fn interaction_and_unmapped_forms() {
        let p = provider("slack", "{}");
        let body = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22team%22%3A%7B%22id%22%3A%22T9%22%7D%2C%22api_app_id%22%3A%22A9%22%2C%22trigger_id%22%3A%2212.34.ab%22%2C%22channel%22%3A%7B%22id%22%3A%22C9%22%7D%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22ok+button%22%7D%5D%7D";
        let ev = one_event(
            &p,
            SECRET,
            &delivery(body, "application/x-www-form-urlencoded"),
        );
        assert_eq!(ev.ty, "com.slack.interaction.block_actions");
        assert_eq!(ev.id, "12.34.ab");
        assert_eq!(ev.source, "https://slack.com/team/T9");
        assert_eq!(ev.subject.as_deref(), Some("C9"));
        let data: Value = serde_json::from_slice(&data_bytes(&ev)).unwrap();
        assert_eq!(data["actions"][0]["action_id"], "ok button");
        // No trigger_id: the body's digest, so an identical retry has the same id.
        let closed = b"payload=%7B%22type%22%3A%22view_closed%22%2C%22team%22%3A%7B%22id%22%3A%22T9%22%7D%7D";
        let ev = one_event(
            &p,
            SECRET,
            &delivery(closed, "application/x-www-form-urlencoded"),
        );
        assert_eq!(ev.id.len(), 64);
        assert_status(
            &p,
            SECRET,
            &delivery(b"foo=bar", "application/x-www-form-urlencoded"),
            400,
        );
        assert_status(
            &p,
            SECRET,
            &delivery(b"payload=not-json", "application/x-www-form-urlencoded"),
            400,
        );
        assert_status(
            &p,
            SECRET,
            &delivery(br#"{"type":"block_actions"}"#, "application/json"),
            400,
        );
    }

    #[test]
    fn refusals() {
        let p = provider("slack", "{}");
        assert_verify(&p, "wrong", &delivery(MESSAGE, "application/json"), |e| {
            *e == verify::VerifyError::Mismatch
        });
        let mut d = delivery(MESSAGE, "application/json");
        d.remove("X-Slack-Signature");
        assert_verify(
            &p,
            SECRET,
            &d,
            |e| matches!(e, verify::VerifyError::Missing(h) if h == "X-Slack-Signature"),
        );
        let mut d = delivery(MESSAGE, "application/json");
        d.remove("X-Slack-Request-Timestamp");
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(MESSAGE, "application/json");
        d.now = TS + 301;
        assert_verify(&p, SECRET, &d, |e| {
            matches!(e, verify::VerifyError::Stale { .. })
        });
        let lenient = provider("slack", r#"{"tolerance":900}"#);
        one_event(&lenient, SECRET, &d);
        assert_eq!(
            spec_error("slack", r#"{"tolerance":"forever"}"#).0,
            "/tolerance"
        );
        assert_eq!(
            spec_error("slack", r#"{"signing_secret":"x"}"#).0,
            "/signing_secret"
        );
    }
}
