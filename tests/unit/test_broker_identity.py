"""Vendor identities on the broker: user names, permission patterns and the sender check (pure)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from services.escalation.domain.inbound import RejectedReply
from services.escalation.entrypoints.vendors import VendorReplyConsumer
from shared.messaging.accounts import amqp_url_for
from shared.messaging.identity import (
    sender_problem,
    user_of,
    vendor_grants,
    vendor_of_reply_key,
    vendor_of_user,
    vendor_user,
    vhost_of,
)


def test_vendor_users_are_per_vhost_and_map_back_to_their_vendor():
    assert vendor_user("acme", "/") == "vendor.acme"
    assert vendor_user("acme", "incidents-test-1") == "vendor.acme@incidents-test-1"
    assert vendor_of_user("vendor.acme", "/") == "acme"
    assert vendor_of_user("vendor.acme@incidents-test-1", "incidents-test-1") == "acme"
    assert vendor_of_user("vendor.acme@other", "incidents-test-1") is None
    assert vendor_of_user("vendor.acme@other", "/") is None
    assert vendor_of_user("incidents", "/") is None
    assert vendor_of_user("guest", "/") is None


def test_vhost_and_user_of_amqp_urls():
    assert vhost_of("amqp://guest:guest@127.0.0.1:5672/") == "/"
    assert vhost_of("amqp://u:p@h/%2F") == "/"
    assert vhost_of("amqp://u:p@h:5672/incidents-test-x") == "incidents-test-x"
    assert user_of("amqp://vendor.acme%40v:pw@h/v") == "vendor.acme@v"
    url = amqp_url_for("amqps://broker.example.com:5671/ignored", "vendor.acme@v", "p/w", "v")
    assert url == "amqps://vendor.acme%40v:p%2Fw@broker.example.com:5671/v"
    assert (user_of(url), vhost_of(url)) == ("vendor.acme@v", "v")


@pytest.mark.parametrize(
    ("routing_key", "vendor"),
    [("vendor.acme.reply", "acme"), ("vendor.hardware-partner.reply", "hardware-partner"),
     ("vendor.acme.handoff", None), ("vendor.Acme.reply", None), ("vendor..reply", None), ("", None),
     ("vendor.a.b.reply", None)],
)
def test_the_claimed_vendor_is_the_reply_routing_keys(routing_key, vendor):
    assert vendor_of_reply_key(routing_key) == vendor


def test_only_the_vendors_own_user_id_proves_the_sender():
    assert sender_problem("vendor.acme@v", "acme", "v") is None
    assert "has no user_id" in sender_problem(None, "acme", "v")
    assert "has no user_id" in sender_problem("", "acme", "v")
    assert "published by RabbitMQ user 'guest'" in sender_problem("guest", "acme", "v")
    assert sender_problem("vendor.acme", "acme", "v") is not None  # the '/' vendor is not this vhost's
    assert sender_problem("vendor.acme-x@v", "acme", "v") is not None


def test_grants_cover_the_vendors_own_names_only():
    grants = vendor_grants("acme")
    for name in ("vendor.acme.handoffs", "vendor.acme.e2e.01ABC"):
        assert re.match(grants.configure, name) and re.match(grants.read, name) and re.match(grants.write, name)
    for name in ("vendor.acme-x.handoffs", "vendor.acmex.handoffs", "vendor.hardware-partner.handoffs",
                 "escalation.vendor_replies", "incidents.events", "amq.default", "vendor.acme", "xvendor.acme.q"):
        assert not re.match(grants.configure, name) and not re.match(grants.read, name), name
        assert not re.match(grants.write, name), name
    assert re.match(grants.write, "incidents.vendor") and not re.match(grants.configure, "incidents.vendor")
    assert re.match(grants.topic_write, "vendor.acme.reply")
    for key in ("vendor.acme.handoff", "vendor.acme-x.reply", "vendor.acme.reply.x", "vendor.*.reply", "#"):
        assert not re.match(grants.topic_write, key), key
    assert re.match(grants.topic_read, "vendor.acme.handoff")
    for key in ("vendor.#", "vendor.*.handoff", "#", "vendor.acme.*", "vendor.hardware-partner.handoff"):
        assert not re.match(grants.topic_read, key), key
    with pytest.raises(ValueError):
        vendor_grants("acme.*")


def _message(body: bytes, routing_key: str = "vendor.acme.reply", user_id: str | None = "vendor.acme@v"):
    return SimpleNamespace(body=body, routing_key=routing_key, user_id=user_id, headers={})


REPLY = (b'{"reply_id": "r1", "handoff_id": "h1", "vendor_id": "acme", "ticket_id": "t1", "kind": "resolved",'
         b' "note": "fixed", "sent_at": "2026-01-05T10:30:00Z"}')


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_message(REPLY, user_id=None), "message for vendor acme has no user_id"),
        (_message(REPLY, user_id="guest"), "was published by RabbitMQ user 'guest'"),
        (_message(REPLY, user_id="vendor.hardware-partner@v"), "was published by RabbitMQ user"),
        (_message(REPLY, routing_key="vendor.acme.handoff"), "is not vendor.<vendor_id>.reply"),
        (_message(REPLY.replace(b'"acme"', b'"hardware-partner"'), "vendor.hardware-partner.reply",
                  "vendor.hardware-partner@v"), None),
        (_message(REPLY, "vendor.hardware-partner.reply", "vendor.hardware-partner@v"),
         "reply of vendor acme arrived on vendor.hardware-partner.reply"),
        (_message(b"[" * 1000), "bad vendor reply: body is JSON nested deeper"),
        (_message(b"\xff"), "bad vendor reply: body is not UTF-8"),
        (_message(b'{"kind": "fixed?"}'), "bad vendor reply: ("),
    ],
)
def test_a_reply_is_accepted_only_from_the_vendor_it_names(message, reason):
    consumer = VendorReplyConsumer(updater=None, delivery_limit=3, vhost="v")
    if reason is None:
        assert consumer.proven_reply(message).vendor_id == "hardware-partner"
        return
    with pytest.raises(RejectedReply) as rejected:
        consumer.proven_reply(message)
    assert reason in str(rejected.value)
