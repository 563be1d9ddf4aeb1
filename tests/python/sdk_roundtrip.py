"""Round trip through Railyard with the official CloudEvents Python SDK.

Sends events in binary mode, structured mode and one batch, with both of the SDK's APIs (the
classic `cloudevents.v1.http` and the newer `cloudevents.core.bindings.http`), reads each back
from GET /v1/buses/{bus}/events/{sequence}, decodes it with the SDK, and requires every
attribute, every extension and the data to be identical.

Usage: python3 sdk_roundtrip.py http://127.0.0.1:PORT
Exit status 0 when every event came back identical; the failures are printed otherwise.
"""

import http.client
import json
import sys
import urllib.parse
import warnings

warnings.simplefilter("ignore")

from cloudevents.core.bindings import http as core_http  # noqa: E402
from cloudevents.core.formats.json import JSONFormat  # noqa: E402
from cloudevents.core.v1.event import CloudEvent as CoreEvent  # noqa: E402
from cloudevents.v1 import http as v1_http  # noqa: E402

BASE = sys.argv[1].rstrip("/")
EVENTS = BASE + "/v1/buses/default/events"
FMT = JSONFormat()


URL = urllib.parse.urlsplit(BASE)
PATH = "/v1/buses/default/events"


def request(method, path, headers=None, body=None):
    # http.client adds no Content-Type of its own (urllib would add a form type).
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def post(headers, body):
    status, _, data = request("POST", PATH, headers, body)
    assert status == 202, (status, data)
    return json.loads(data)["results"]


def fetch(seq, mode):
    status, headers, body = request("GET", f"{PATH}/{seq}?mode={mode}")
    assert status == 200, (status, body)
    return headers, body


def core_events():
    return [
        CoreEvent(attributes={"type": "com.example.json", "source": "/orders", "subject": "o-1",
                              "datacontenttype": "application/json",
                              "dataschema": "https://example.com/schemas/order.json",
                              "partitionkey": "k1", "traceparent": "00-abc-def-01"},
                  data={"order": 1, "items": [{"sku": "a", "qty": 2}], "note": "ünïcødé ✓", "n": None}),
        CoreEvent(attributes={"type": "com.example.nocontenttype", "source": "urn:example:src"},
                  data={"message": "Hello"}),
        CoreEvent(attributes={"type": "com.example.bytes", "source": "/bin",
                              "datacontenttype": "application/octet-stream"},
                  data=bytes(range(256))),
        CoreEvent(attributes={"type": "com.example.text", "source": "/text",
                              "datacontenttype": "text/plain; charset=utf-8"},
                  data="plain text, with % and \"quotes\""),
        CoreEvent(attributes={"type": "com.example.nodata", "source": "/empty", "ext": "only"}),
    ]


def v1_events():
    return [
        v1_http.CloudEvent({"type": "com.example.v1.json", "source": "https://example.com/src",
                            "ext1": "x y", "comexampleothervalue": "5"}, {"a": 1, "b": [True, None, 1.5]}),
        v1_http.CloudEvent({"type": "com.example.v1.bytes", "source": "/s"}, b"\x00\x01\xfe\xff"),
        v1_http.CloudEvent({"type": "com.example.v1.text", "source": "/s",
                            "datacontenttype": "text/plain"}, "hello world"),
    ]


failures = []


def check(label, sent, got):
    if sent.get_attributes() != got.get_attributes():
        failures.append(f"{label}: attributes differ\n  sent {sent.get_attributes()}\n  got  {got.get_attributes()}")
    if sent.get_data() != got.get_data():
        failures.append(f"{label}: data differs\n  sent {sent.get_data()!r}\n  got  {got.get_data()!r}")


def core_read(seq, mode):
    headers, body = fetch(seq, mode)
    headers = {k.lower(): v for k, v in headers.items()}
    return core_http.from_http(core_http.HTTPMessage(headers=headers, body=body), FMT)


def v1_read(seq, mode):
    headers, body = fetch(seq, mode)
    return v1_http.from_http(headers, body)


# The classic v1 API's binary-mode reader does not percent-decode ce- headers and returns text
# bodies as bytes, so v1 events are read back in structured mode. Its binary-mode writer sends str
# data as a JSON string ('"hello"') whatever the content type; Railyard keeps the bytes it was
# sent, which that same SDK decodes back only from binary mode, so that one case is read binary.
def v1_modes(sent_mode, ev):
    if sent_mode == "binary" and isinstance(ev.data, str):
        return ("binary",)
    return ("structured",)


sent = 0
for i, ev in enumerate(core_events()):
    for mode, conv in (("binary", core_http.to_binary), ("structured", core_http.to_structured)):
        msg = conv(ev, FMT)
        [res] = post(msg.headers, msg.body)
        assert res["id"] == ev.get_id(), res
        for read in ("structured", "binary"):
            check(f"core {mode} #{i} ({ev.get_type()}) read {read}", ev, core_read(res["sequence"], read))
        sent += 1

for i, ev in enumerate(v1_events()):
    for mode, conv in (("binary", v1_http.to_binary), ("structured", v1_http.to_structured)):
        headers, body = conv(ev)
        [res] = post(headers, body)
        for read in v1_modes(mode, ev):
            check(f"v1 {mode} #{i} ({ev['type']}) read {read}", ev, v1_read(res["sequence"], read))
        sent += 1

batch = core_events()
payload = json.dumps([json.loads(core_http.to_structured(ev, FMT).body) for ev in batch]).encode()
results = post({"content-type": "application/cloudevents-batch+json"}, payload)
assert len(results) == len(batch), results
for ev, res in zip(batch, results):
    assert res["id"] == ev.get_id(), res
    for read in ("structured", "binary"):
        check(f"core batch ({ev.get_type()}) read {read}", ev, core_read(res["sequence"], read))
    sent += 1

if failures:
    print("\n".join(failures))
    print(f"{len(failures)} failed, {sent} events sent")
    sys.exit(1)
print(f"{sent} passed, 0 failed")
