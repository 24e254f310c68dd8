"""Notifier end to end: e-mail to an SMTP sink and webhooks/Slack to a local receiver that verifies each
endpoint's signature with that endpoint's own secret; each message once, failures retried into delivery
or notification.failed (seen by agents, never by the reporter), Slack markup in titles inert, and a
kill -9 of the notifier mid-send without a duplicate."""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import yaml

from bench.system import free_port, wait_until
from services.notifier.domain.signing import verify
from tests.e2e.api import Api
from tests.e2e.receiver import Receiver

pytestmark = pytest.mark.e2e

MAX_ATTEMPTS = 4
SCENARIOS = ("flaky", "throttle", "slow", "gone", "down", "refused", "hold")
SECRETS = {name: secrets.token_hex(20) for name in ("pager", *SCENARIOS)}
"""Each webhook endpoint's own signing secret (made per run); `flaky`'s is read from a file, the others from env."""
HOSTILE_TITLE = "Down <!channel> <!here> <@U123> <http://evil.example|click> & more"


def secret_env(name: str) -> str:
    return f"E2E_{name.upper()}_SECRET"


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, int]]:
    server = Receiver({"/ok/pager": SECRETS["pager"], **{f"/{name}": SECRETS[name] for name in SCENARIOS}})
    port = server.start()
    yield server, port
    server.stop()


@pytest.fixture(scope="module")
def system_env(receiver, tmp_path_factory) -> dict[str, str]:
    """Routing to the local receiver with a secret per webhook endpoint (no global one), short timeouts and retries."""
    _, port = receiver
    base = f"http://127.0.0.1:{port}"
    directory = tmp_path_factory.mktemp("notifier-routing")
    (directory / "flaky.secret").write_text(SECRETS["flaky"] + "\n")
    endpoints = {"pager": {"url": f"{base}/ok/pager", "secret_env": secret_env("pager")},
                 "chat": {"url": f"{base}/slack/service-desk"},
                 "refused": {"url": f"http://127.0.0.1:{free_port()}/nobody-listens",
                             "secret_env": secret_env("refused")}}
    endpoints |= {name: {"url": f"{base}/{name}", "secret_env": secret_env(name)}
                  for name in SCENARIOS if name not in ("refused", "flaky")}
    endpoints["flaky"] = {"url": f"{base}/flaky", "secret_file": "flaky.secret"}
    routing = {
        "version": 1,
        "endpoints": endpoints,
        "contacts": {"sd-oncall": {"name": "Service desk on-call", "webhook": "pager"},
                     "sd-room": {"name": "#service-desk", "slack": "chat"}},
        "teams": {"service-desk": {"on_call": ["sd-oncall"], "team": ["sd-room"]}},
        "routes": [{"message": "ticket_received", "to": "reporter", "channels": ["email"]},
                   {"message": "ticket_assigned", "to": "on_call", "channels": ["webhook"]},
                   {"message": "ticket_assigned", "to": "team", "channels": ["slack"]}],
        "reporters": {f"{name}@example.com": {"channels": ["webhook"], "webhook": name} for name in SCENARIOS},
        "rate_limits": {"slack": {"interval_seconds": 3}},
    }
    (directory / "routing.yaml").write_text(yaml.safe_dump(routing))
    return {
        "NOTIFIER_ROUTING_FILE": str(directory / "routing.yaml"),
        **{secret_env(name): secret for name, secret in SECRETS.items() if name != "flaky"},
        "WEBHOOK_TIMEOUT_SECONDS": "1",
        "SMTP_TIMEOUT_SECONDS": "2",
        "DELIVERY_LEASE_SECONDS": "3",
        "DELIVERY_POLL_SECONDS": "0.2",
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_SECONDS": "1",
        "DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    }


@pytest.fixture(scope="module")
def agent(system) -> str:
    return system.create_key("agent", "Agent Smith", "smith@example.com")


def post_ticket(system, email: str, type_: str = "performance", title: str = "Checkout is slow") -> dict:
    key = system.create_key("reporter", email.split("@")[0].capitalize(), email)
    response = httpx.post(f"{system.url('intake')}/v1/tickets", headers={"Authorization": f"Bearer {key}"},
                          json={"title": title, "type": type_, "description": "since this morning"})
    assert response.status_code == 201, response.text
    return {**response.json(), "key": key}


def deliveries(system, agent: str, ticket_id: str) -> list[dict]:
    response = httpx.get(f"{system.url('notifier')}/v1/deliveries", params={"ticket_id": ticket_id},
                         headers={"Authorization": f"Bearer {agent}"})
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


def wait_settled(system, agent: str, ticket_id: str, count: int, timeout: float = 45) -> list[dict]:
    def settled() -> list[dict] | None:
        found = [d for d in deliveries(system, agent, ticket_id) if d["message"] != "digest"]
        return found if len(found) == count and all(
            d["state"] in ("delivered", "failed", "digested") for d in found) else None

    return wait_until(settled, lambda: f"deliveries of {ticket_id} settled\n{system.log_tail('notifier')}", timeout,
                      interval=0.2)


def wait_timeline(system, ticket: dict, action: str, timeout: float = 30) -> dict:
    api = Api(system.url("intake"), ticket["key"])
    return api.wait_for(ticket["number"], lambda body: any(e["action"] == action for e in body["timeline"]), timeout)


def test_each_message_arrives_once_with_the_right_content(system, mailbox, receiver, agent):
    box, _ = mailbox
    server, _ = receiver
    ticket = post_ticket(system, "ada@example.com", type_="access", title="Cannot log in")
    number = ticket["number"]
    settled = wait_settled(system, agent, ticket["id"], 3)
    assert {(d["message"], d["channel"], d["recipient"]["role"]) for d in settled} == {
        ("ticket_received", "email", "reporter"), ("ticket_assigned", "webhook", "on_call"),
        ("ticket_assigned", "slack", "team")}
    assert all(d["state"] == "delivered" and len(d["attempts"]) == 1 for d in settled)

    [mail] = [m for m in box.messages() if number in (m["Subject"] or "")]
    assert mail["To"] == "ada@example.com" and mail["Subject"].startswith(f"[{number}]")
    assert mail["X-Ticket-Number"] == number and ticket["id"] in mail["In-Reply-To"] == mail["References"]
    assert "You can expect a first response within" in mail.get_payload(0).get_payload(decode=True).decode()
    assert mail.get_payload(1).get_content_type() == "text/html"

    pages = [r for r in server.requests if r.path == "/ok/pager" and r.body["ticket"]["number"] == number]
    assert len(pages) == 1 and pages[0].signature_ok is True and pages[0].key_id == "pager"
    for other in ("flaky", "gone"):
        assert not verify(SECRETS[other], pages[0].headers["x-incidents-timestamp"],
                          pages[0].headers["x-incidents-signature"], pages[0].raw, now=time.time()), \
            f"the {other} endpoint's secret does not verify the pager's deliveries"
    page = pages[0].body
    assert page["message"] == "ticket_assigned" and page["recipient_role"] == "on_call"
    assert page["data"]["team"] == "service-desk" and "Cannot log in" in page["text"]
    chats = [r for r in server.requests if r.path.startswith("/slack") and number in r.body["text"]]
    assert len(chats) == 1 and chats[0].body["blocks"][0]["type"] == "header"

    wait_timeline(system, ticket, "notification_sent")
    reporter_view = httpx.get(f"{system.url('notifier')}/v1/deliveries", params={"ticket_id": ticket["id"]},
                              headers={"Authorization": f"Bearer {ticket['key']}"})
    assert reporter_view.status_code == 403
    metrics = httpx.get(f"{system.url('notifier')}/metrics").text
    assert 'incidents_notifications_total{channel="email",outcome="delivered"}' in metrics
    assert "incidents_notification_delivery_seconds_bucket" in metrics


def test_receiver_failures_are_retried_until_delivered(system, receiver, agent):
    server, _ = receiver
    tickets = {name: post_ticket(system, f"{name}@example.com") for name in ("flaky", "throttle", "slow")}
    outcomes = {}
    for name, ticket in tickets.items():
        [delivery] = wait_settled(system, agent, ticket["id"], 1)
        assert delivery["state"] == "delivered", delivery
        outcomes[name] = [(a["outcome"], a["error"]) for a in delivery["attempts"]]
    assert outcomes["flaky"] == [("transient", "HTTP 500"), ("transient", "HTTP 500"), ("delivered", None)]
    assert outcomes["throttle"] == [("transient", "HTTP 429"), ("delivered", None)]
    assert outcomes["slow"][0][0] == "transient" and outcomes["slow"][0][1].startswith("timeout")
    assert outcomes["slow"][-1] == ("delivered", None)
    for name in tickets:
        keys = {r.key for r in server.requests if r.path == f"/{name}"}
        assert len(keys) == 1, f"every retry of {name} carried the same Idempotency-Key"
        assert all(r.signature_ok and r.key_id == name for r in server.requests if r.path == f"/{name}")
        assert keys <= set(server.accepted)
    flaky = next(r for r in server.requests if r.path == "/flaky")
    assert not verify(SECRETS["pager"], flaky.headers["x-incidents-timestamp"], flaky.headers["x-incidents-signature"],
                      flaky.raw, now=time.time()), "the pager's secret does not verify flaky's (from a file)"


def test_permanent_and_exhausted_failures_publish_notification_failed(system, agent):
    tickets = {name: post_ticket(system, f"{name}@example.com") for name in ("gone", "down", "refused")}
    for name, ticket in tickets.items():
        [delivery] = wait_settled(system, agent, ticket["id"], 1)
        assert delivery["state"] == "failed", delivery
        if name == "gone":
            assert [a["outcome"] for a in delivery["attempts"]] == ["permanent"]
            assert "HTTP 404" in delivery["last_error"]
        else:
            assert len(delivery["attempts"]) == MAX_ATTEMPTS
            assert {a["outcome"] for a in delivery["attempts"]} == {"transient"}
        if name == "refused":
            assert delivery["attempts"][0]["error"].startswith("connection failed")
        body = wait_timeline(system, {**ticket, "key": agent}, "notification_failed")
        [entry] = [e for e in body["timeline"] if e["action"] == "notification_failed"]
        assert "webhook" in entry["detail"] and entry["visibility"] == "internal"
        reporter_view = Api(system.url("intake"), ticket["key"]).ticket(ticket["number"])
        assert not [e for e in reporter_view["timeline"] if e["action"].startswith("notification_")]
        text = json.dumps(reporter_view)
        assert delivery["last_error"] not in text and "failed after" not in text, "no failure text for the reporter"


def test_slack_markup_in_a_title_reaches_the_channel_as_text(system, receiver, agent):
    server, _ = receiver
    ticket = post_ticket(system, "ada@example.com", type_="access", title=HOSTILE_TITLE)
    wait_settled(system, agent, ticket["id"], 3)
    requests = server.wait_for(lambda rs: any(r.path.startswith("/slack") and ticket["number"] in json.dumps(r.body)
                                              for r in rs))
    [chat] = [r for r in requests if r.path.startswith("/slack") and ticket["number"] in json.dumps(r.body)]
    assert "&lt;!channel&gt;" in chat.body["text"] and "&amp; more" in chat.body["text"]
    for text in [chat.body["text"], *[json.dumps(block) for block in chat.body.get("blocks", [])]]:
        for control in ("<!channel>", "<!here>", "<@U123>", "<http://evil.example|click>"):
            assert control not in text, (control, text)


def test_rate_limited_chat_messages_arrive_once_each_partly_as_a_digest(system, receiver, agent):
    server, _ = receiver
    tickets = [post_ticket(system, "ada@example.com", type_="access", title=f"Locked out {i}") for i in range(3)]
    for ticket in tickets:
        wait_settled(system, agent, ticket["id"], 3)
    def slack_texts(requests) -> list[str]:
        return [r.body["text"] for r in requests if r.path.startswith("/slack")]

    # a digested message is settled before its digest goes out: wait for the digest itself
    requests = server.wait_for(lambda rs: all(any(t["number"] in x for x in slack_texts(rs)) for t in tickets))
    texts = slack_texts(requests)
    for ticket in tickets:
        assert sum(text.count(ticket["number"]) for text in texts) == 1, (ticket["number"], texts)
    assert any("held back by the rate limit" in text for text in texts)
    pages = Counter(r.body["ticket"]["number"] for r in server.requests if r.path == "/ok/pager")
    assert all(pages[t["number"]] == 1 for t in tickets), "pages are not rate limited here and arrive once"


def test_killing_the_notifier_mid_delivery_sends_nothing_twice(system, mailbox, receiver, agent):
    box, _ = mailbox
    server, _ = receiver
    held = post_ticket(system, "hold@example.com")
    server.wait_for(lambda requests: any(r.path == "/hold" for r in requests))
    mailed = [post_ticket(system, "grace@example.com", title=f"Report {i}") for i in range(3)]
    system.kill("notifier")
    server.release.set()
    mailed += [post_ticket(system, "grace@example.com", title=f"After {i}") for i in range(2)]
    system.start("notifier")

    [delivery] = wait_settled(system, agent, held["id"], 1)
    assert delivery["state"] == "delivered"
    sends = [r for r in server.requests if r.path == "/hold"]
    assert len({r.key for r in sends}) == 1, "the re-send after the crash carries the same Idempotency-Key"
    assert sends[0].key in server.accepted and len(sends) >= 2
    for ticket in mailed:
        wait_settled(system, agent, ticket["id"], 1)
        copies = [m for m in box.messages() if ticket["number"] in (m["Subject"] or "")]
        assert len({m["Message-ID"] for m in copies}) == 1, f"{ticket['number']}: {[m['Message-ID'] for m in copies]}"
