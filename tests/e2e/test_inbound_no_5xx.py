"""No input makes an inbound integration answer 5xx: generated bodies (any JSON, any bytes) sent with a valid
key or a valid Slack signature, so they reach the parsers, and odd methods and headers.

The only 5xx an integration route gives is 503 for Alertmanager when it must retry (throttled, busy,
the database away, an address waiting out its bad keys), which these requests never cause (they send
far fewer bad keys than AUTH_FAILURES_PER_MINUTE)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.alerts_support import create_integration
from tests.e2e.test_slack_in import SIGNING_SECRET, signed

pytestmark = pytest.mark.e2e
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25)
field_names = st.sampled_from(["version", "groupKey", "status", "alerts", "receiver", "commonLabels", "labels",
                               "fingerprint", "startsAt", "event_action", "dedup_key", "payload", "summary",
                               "severity", "links", "images", "type", "event", "event_id", "challenge", "$where",
                               "a.b", ""])
shaped = st.dictionaries(field_names, json_values, max_size=8)


@pytest.fixture(scope="module")
def system_env() -> dict[str, str]:
    return {"SLACK_E2E_SIGNING_SECRET": SIGNING_SECRET}


@pytest.fixture(scope="module")
def keys(system) -> Iterator[dict[str, dict[str, str]]]:
    yield {
        "alertmanager": create_integration(system, "alertmanager", "fuzz-am", "--rate-per-minute", "100000",
                                           "--burst", "10000"),
        "events-v2": create_integration(system, "events-v2", "fuzz-pd", "--rate-per-minute", "100000",
                                        "--burst", "10000"),
        "slack": create_integration(system, "slack", "fuzz-slack", "--signing-secret-env", "SLACK_E2E_SIGNING_SECRET",
                                    "--rate-per-minute", "100000", "--burst", "10000"),
    }


def as_json(value) -> bytes:
    """Return value as JSON text, infinities and NaN written as Python writes them (JSON parsers disagree on them)."""
    return json.dumps(value).encode()


def assert_no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.url}: {response.status_code} {response.text[:500]}"


@EXAMPLES
@given(body=shaped | json_values)
def test_alertmanager_never_5xx(system, keys, body):
    alert = {"status": "firing", "labels": {}, "fingerprint": "ab"}
    for candidate in (body, {"version": "4", "groupKey": "g", "status": "firing", "alerts": [alert], **(
            body if isinstance(body, dict) else {})}):
        assert_no_5xx(httpx.post(system.url("intake") + "/integrations/alertmanager", content=as_json(candidate),
                                 timeout=15, headers={"Authorization": f"Bearer {keys['alertmanager']['key']}"}))


@EXAMPLES
@given(body=shaped | json_values, payload=shaped)
def test_events_api_never_5xx(system, keys, body, payload):
    key = keys["events-v2"]["key"]
    for candidate in (body, {**(body if isinstance(body, dict) else {}), "routing_key": key},
                      {"routing_key": key, "event_action": "trigger", "payload": payload}):
        assert_no_5xx(httpx.post(system.url("intake") + "/v2/enqueue", content=as_json(candidate), timeout=15))


@EXAMPLES
@given(body=shaped | json_values, event=shaped, raw=st.binary(max_size=300))
def test_slack_never_5xx_even_when_signed(system, keys, body, event, raw):
    slack = keys["slack"]
    candidates = [json.dumps(body).encode(), json.dumps({"type": "event_callback", "event_id": "Ev1", "team_id": "T1",
                                                          "event": {"type": "app_mention", **event}}).encode(), raw]
    for content in candidates:
        assert_no_5xx(httpx.post(slack["events url"], content=content, headers=signed(content), timeout=15))
        assert_no_5xx(httpx.post(slack["command url"], content=content, headers=signed(content), timeout=15))


@pytest.mark.parametrize("path", ["/integrations/alertmanager", "/v2/enqueue",
                                  "/integrations/slack/01ZZZZZZZZZZZZZZZZZZZZZZZZ/events",
                                  "/integrations/slack/../../v1/tickets/commands", "/integrations/slack/%00/events"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "BREW"])
def test_other_methods_and_odd_paths_never_5xx(system, path, method):
    assert_no_5xx(httpx.request(method, system.url("intake") + path, timeout=15))
    assert_no_5xx(httpx.post(system.url("intake") + path, content=b"\x00" * 10,
                             headers={"Authorization": "Bearer " + "x" * 5000, "Content-Type": "text/plain"},
                             timeout=15))
