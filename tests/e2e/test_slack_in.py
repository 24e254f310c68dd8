"""Slack in on the running platform: requests signed the way Slack signs them (v0 HMAC-SHA256 over
`v0:timestamp:body`), the url_verification handshake, app mentions (with Slack's retries), the
`/incident` command, and requests that are stale or wrongly signed (401, nothing stored).

Slack's Web API, where intake answers a mention (chat.postMessage), is the local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.alerts_support import count_tickets, create_integration, unauthorized
from tests.e2e.api import Api
from tests.e2e.receiver import Receiver

pytestmark = pytest.mark.e2e
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-e2e-bot-token"
PORTAL = "https://support.example.com"
CRITICAL = "C0CRITICAL1"


@pytest.fixture(scope="module")
def slack_api() -> Iterator[Receiver]:
    server = Receiver({})
    server.port = server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system_env(slack_api) -> dict[str, str]:
    return {"SLACK_E2E_SIGNING_SECRET": SIGNING_SECRET, "SLACK_E2E_BOT_TOKEN": BOT_TOKEN, "PORTAL_URL": PORTAL,
            "SLACK_API_URL": f"http://127.0.0.1:{slack_api.port}/slack-api"}


@pytest.fixture(scope="module")
def slack(system) -> dict[str, str]:
    return create_integration(system, "slack", "acme-slack", "--signing-secret-env", "SLACK_E2E_SIGNING_SECRET",
                              "--bot-token-env", "SLACK_E2E_BOT_TOKEN", "--critical-channel", CRITICAL)


@pytest.fixture(scope="module")
def agent(system) -> Api:
    return Api(system.url("intake"), system.create_key("agent", "Ann Agent", "ann@example.com"))


def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """Return the headers Slack sends: the request timestamp and v0=HMAC-SHA256(secret, v0:timestamp:body)."""
    timestamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def post(url: str, body: bytes, content_type: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type, **headers}, timeout=15)


def mention(event_id: str, channel: str, text: str) -> bytes:
    """Return an Events API app_mention callback as Slack sends it."""
    return json.dumps({
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": "T061EG9R6", "api_app_id": "A0MDYCDME",
        "event": {"type": "app_mention", "user": "U061F7AUR", "text": f"<@U0LAN0Z89> {text}",
                  "ts": "1515449522.000016", "channel": channel, "event_ts": "1515449522000016"},
        "type": "event_callback", "event_id": event_id, "event_time": 1515449522,
        "authed_users": ["U0LAN0Z89"],
    }).encode()


def command(text: str, channel: str = "C2147483705", trigger: str = "13345224609.738474920.8088930838d88f008e0") -> bytes:
    """Return a slash command as Slack posts it (form-encoded)."""
    return urlencode({
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example",
        "enterprise_id": "E0001", "enterprise_name": "Globular Construct Inc", "channel_id": channel,
        "channel_name": "test", "user_id": "U2147483697", "user_name": "Steve", "command": "/incident",
        "text": text, "response_url": "https://hooks.slack.com/commands/1234/5678", "trigger_id": trigger,
        "api_app_id": "A123456",
    }).encode()


def test_the_url_verification_handshake_answers_the_challenge(system, slack):
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    answer = post(slack["events url"], body, "application/json", signed(body))
    assert answer.status_code == 200 and answer.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_a_mention_in_critical_incidents_opens_a_critical_ticket_once_and_answers_in_the_thread(
        system, slack, agent, slack_api):
    body = mention("Ev0CRITICAL01", CRITICAL, "payments are failing for everyone")
    answer = post(slack["events url"], body, "application/json", signed(body))
    assert answer.status_code == 200, answer.text
    number = answer.json()["ticket"]
    ticket = agent.wait_for(number, lambda t: t.get("triage") is not None, timeout=60)
    assert ticket["severity"] == "critical" and ticket["triage"]["rule"] == "source"
    assert ticket["title"] == "payments are failing for everyone" and ticket["reporter"]["id"] == "slack:T061EG9R6:U061F7AUR"
    replies = slack_api.wait_for(lambda requests: [r for r in requests if r.path == "/slack-api/chat.postMessage"])
    reply = replies[-1].body
    assert reply["channel"] == CRITICAL and reply["thread_ts"] == "1515449522.000016"
    assert f"<{PORTAL}/tickets/{number}|{number}>" in reply["text"] and "Critical" in reply["text"]

    tickets = count_tickets(system)
    retry = post(slack["events url"], body, "application/json", {**signed(body), "X-Slack-Retry-Num": "1",
                                                                  "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.json()["ticket"] == number, "Slack's retry finds the same ticket"
    assert count_tickets(system) == tickets
    time.sleep(1)  # give a (wrong) second answer the chance to show up before counting answers
    assert len([r for r in slack_api.requests if r.path == "/slack-api/chat.postMessage"]) == len(replies)


def test_a_mention_elsewhere_is_left_to_triage(system, slack, agent):
    body = mention("Ev0ELSEWHERE1", "C0RANDOM01", "the export page is slow this morning")
    answer = post(slack["events url"], body, "application/json", signed(body))
    ticket = agent.wait_for(answer.json()["ticket"], lambda t: t.get("triage") is not None, timeout=60)
    assert ticket["reported_severity"] is None and ticket["triage"]["rule"] != "source"
    assert ticket["severity"] == "medium", "triage's rules read 'slow' as degraded performance"


def test_the_incident_command_opens_a_ticket_and_answers_with_its_number_and_link(system, slack, agent):
    body = command("checkout returns 500 for every order")
    answer = post(slack["command url"], body, "application/x-www-form-urlencoded", signed(body))
    assert answer.status_code == 200 and answer.json()["response_type"] == "in_channel"
    text = answer.json()["text"]
    number = text.split("|", 1)[1].split(">", 1)[0]
    assert text.startswith(f"Opened <{PORTAL}/tickets/{number}|{number}>")
    ticket = agent.ticket(number)
    assert ticket["reporter"]["name"] == "Steve" and ticket["source"]["via"] == "command"
    empty = command("", trigger="13345224609.738474920.0000000000000000001")
    usage = post(slack["command url"], empty, "application/x-www-form-urlencoded", signed(empty))
    assert usage.json()["response_type"] == "ephemeral" and "/incident" in usage.json()["text"]


@pytest.mark.parametrize("case", ["stale", "wrong secret", "tampered", "no signature", "not utf-8", "unknown integration"])
def test_requests_not_signed_by_slack_are_401_and_store_nothing(system, slack, case):
    body = mention(f"Ev0BAD{len(case):04d}", CRITICAL, "the platform is down")
    url = slack["events url"]
    headers = signed(body)
    if case == "stale":
        headers = signed(body, at=int(time.time()) - 6 * 60)
    elif case == "wrong secret":
        headers = signed(body, secret="not-the-signing-secret")
    elif case == "tampered":
        body = body.replace(b"the platform is down", b"the platform is fine")
    elif case == "no signature":
        headers = {}
    elif case == "not utf-8":
        body = b"\xff\xfe" + body
        headers = signed(body)  # signed over the raw bytes: the verifier must not fail on them
    else:
        url = url.replace(slack["id"], "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    tickets, refused = count_tickets(system), unauthorized(system, "slack")
    answer = post(url, body, "application/json", headers)
    assert answer.status_code == 401, answer.text
    assert count_tickets(system) == tickets and unauthorized(system, "slack") == refused + 1
