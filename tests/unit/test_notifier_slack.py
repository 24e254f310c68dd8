"""Slack messages escape Slack's own markup in every value they carry: a ticket titled `<!channel>` pings nobody."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.notifier.adapters.http_channels import slack_body
from services.notifier.adapters.metrics import NotifierMetrics
from services.notifier.adapters.routing_file import load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain import slack
from services.notifier.domain.messages import REGISTRY, from_triaged
from services.notifier.domain.retry import RetryPolicy
from services.notifier.entrypoints.worker import DeliveryLoop
from services.notifier.service_layer.dispatch import Dispatcher
from services.notifier.service_layer.handlers import notify
from shared.clock import FakeClock
from shared.contracts import Reporter
from tests.factories import REPORTED_AT, envelope_for, triaged
from tests.fakes_notifier import FakeChannel, FakeDeliveries, FakeRateSlots

ATTACKS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C42>", "<!subteam^S1>", "<http://evil.example|click>"]
TITLE = "Outage " + " ".join(ATTACKS) + " & more"


def texts(value) -> list[str]:
    """Return every string in a Slack body (text and every text object of the blocks)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    return []


def assert_inert(body: dict) -> None:
    """No string of the body holds a Slack control sequence or a bare ampersand from the title."""
    found = texts(body)
    assert found
    for text in found:
        assert "<" not in text and ">" not in text, text
        assert "& more" not in text, text


@pytest.mark.parametrize(("raw", "escaped"), [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here>", "&lt;!here&gt;"),
    ("<@U123>", "&lt;@U123&gt;"),
    ("<http://evil|click>", "&lt;http://evil|click&gt;"),
    ("fish & chips", "fish &amp; chips"),
    ("&lt;!channel&gt;", "&lt;!channel&gt;"),
    ("&amp;", "&amp;"),
    ("&ltx; &#60; &", "&amp;ltx; &amp;#60; &amp;"),
])
def test_slack_escape(raw, escaped):
    assert slack.escape(raw) == escaped
    assert slack.escape(slack.escape(raw)) == escaped, "escaping twice changes nothing"


def test_every_value_of_a_context_is_escaped_and_others_are_kept():
    context = {"title": "<!here>", "tier": 2, "items": [{"subject": "<@U1>"}], "pair": ("<a>", None)}
    assert slack.escaped(context) == {"title": "&lt;!here&gt;", "tier": 2, "items": [{"subject": "&lt;@U1&gt;"}],
                                      "pair": ("&lt;a&gt;", None)}


@pytest.mark.parametrize("message", ["ticket_assigned", "ticket_received"])
def test_a_hostile_title_is_inert_in_slack_text_and_blocks(message):
    notice = from_triaged("E1", triaged(title=TITLE, reporter=Reporter(id="r1", name="<!channel> Mallory")))
    context = {**notice.context, "recipient_name": "#service-desk", "role": "team"}
    content = TemplateRenderer().content(message, "slack", context, notice.number)
    assert content.blocks, "both messages have blocks"
    body = slack_body_of(content)
    assert_inert(body)
    assert "&lt;!channel&gt;" in body["text"] and "&amp; more" in body["text"]
    mrkdwn = [b["text"]["text"] for b in content.blocks if b.get("text", {}).get("type") == "mrkdwn"]
    assert any("&lt;http://evil.example|click&gt;" in t for t in mrkdwn), "mrkdwn link syntax is escaped"
    assert any(t.startswith("*") for t in mrkdwn), "the template's own formatting is kept"


def slack_body_of(content):
    from services.notifier.domain.deliveries import Outgoing

    return slack_body(Outgoing(delivery_id="d", channel="slack", address="http://127.0.0.1:9/hook", content=content,
                               message="m"))


ROUTING = {
    "version": 1,
    "endpoints": {"chat": {"url": "http://127.0.0.1:9/chat"}},
    "contacts": {"room": {"name": "#service-desk", "slack": "chat"}},
    "teams": {"service-desk": {"team": ["room"]}},
    "routes": [{"message": "ticket_assigned", "to": "team", "channels": ["slack"]}],
    "rate_limits": {"slack": {"interval_seconds": 60}},
}


async def test_messages_and_the_digest_a_channel_receives_are_inert_and_escaped_once(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(ROUTING))
    renderer = TemplateRenderer()
    router = load_router(path, {}, renderer.exists)
    clock = FakeClock(REPORTED_AT)
    deliveries = FakeDeliveries()
    chat = FakeChannel()
    dispatcher = Dispatcher(deliveries=deliveries, slots=FakeRateSlots(), senders={"slack": chat}, router=router,
                            renderer=renderer, policy=RetryPolicy(), clock=clock,
                            metrics=NotifierMetrics.register(CollectorRegistry()), lease=timedelta(seconds=30),
                            rng=random.Random(1))
    loop = DeliveryLoop(dispatcher, deliveries, clock, poll_seconds=1, concurrency=4)
    for i in range(3):
        event = triaged(number=f"INC-00000{i + 1}", title=f"{TITLE} {i}")
        await notify(envelope_for(event), event, entry=REGISTRY["ticket.triaged"], router=router, renderer=renderer,
                     deliveries=deliveries, clock=clock, worker=loop)
    await loop.drain()
    clock.advance(timedelta(seconds=61))
    while await loop.run_once():
        await loop.drain()
    assert [o.message for o in chat.sent] == ["ticket_assigned", "digest"]
    for outgoing in chat.sent:
        body = slack_body(outgoing)
        assert_inert(body)
        assert json.dumps(body).count("&amp;lt;") == 0, "nothing is escaped twice"
    assert chat.sent[1].content.text.count("&lt;!channel&gt;") == 2
