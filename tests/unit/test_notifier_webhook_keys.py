"""Webhook signing keys per endpoint: each endpoint signs with its own secret from the environment or a
file the routing file names, one endpoint's secret verifies none of another's deliveries, and a
missing secret stops the notifier at start in production with a message that names no secret."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml

from services.notifier.adapters.http_channels import WebhookSender
from services.notifier.adapters.routing_file import DEVELOPMENT_KEY_ID, load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.bootstrap import build_router
from services.notifier.domain.deliveries import Content, Outgoing
from services.notifier.settings import NotifierSettings
from shared.clock import SystemClock
from shared.config_files import ConfigFileError
from tests.e2e.receiver import Receiver

EXISTS = TemplateRenderer().exists
SECRET_A = "pager-a-secret-0123456789abcdef"
SECRET_B = "pager-b-secret-fedcba9876543210"
PRODUCTION = {"environment": "production", "amqp_url": "amqp://svc:pw-0123456789@rabbit:5672/",
              "mongodb_url": "mongodb://svc:pw-0123456789@mongo:27017/",
              "mail_reply_secret": "a-mail-reply-secret-of-32-characters-0123",
              "ack_link_secret": "an-ack-link-secret-0123456789"}


def routing(tmp_path: Path, endpoints: dict, *, base_url: str = "http://127.0.0.1:9") -> Path:
    """Write a routing file paging one contact per endpoint; return its path."""
    config = {
        "version": 1,
        "endpoints": {name: {"url": f"{base_url}/{name}", **extra} for name, extra in endpoints.items()},
        "contacts": {f"{name}-oncall": {"name": name, "webhook": name} for name in endpoints},
        "teams": {"service-desk": {"on_call": [f"{name}-oncall" for name in endpoints]}},
        "routes": [{"message": "ticket_assigned", "to": "on_call", "channels": ["webhook"]}],
    }
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def outgoing(endpoint: str, url: str) -> Outgoing:
    return Outgoing(delivery_id=f"E1:webhook:{endpoint}-oncall", channel="webhook", address=url, endpoint=endpoint,
                    content=Content(subject="s", text="t"), message="ticket_assigned", ticket_id="T1",
                    number="INC-000001")


def test_two_endpoints_sign_with_their_own_secrets_and_neither_verifies_the_others(tmp_path):
    (tmp_path / "pager-b.secret").write_text(SECRET_B + "\n")
    receiver = Receiver({"/pager-a": SECRET_A, "/pager-b": SECRET_B})
    port = receiver.start()
    try:
        path = routing(tmp_path, {"pager-a": {"secret_env": "PAGER_A_SECRET"},
                                  "pager-b": {"secret_file": "pager-b.secret", "key_id": "pager-b-2026"}},
                       base_url=f"http://127.0.0.1:{port}")
        router = load_router(path, {"PAGER_A_SECRET": SECRET_A}, EXISTS, production=True)

        async def send_both() -> None:
            async with httpx.AsyncClient(timeout=5) as client:
                sender = WebhookSender(client, router.signing_key, SystemClock())
                for name in ("pager-a", "pager-b"):
                    result = await sender.send(outgoing(name, router.endpoint_url(name)))
                    assert result.outcome.value == "delivered", result

        asyncio.run(send_both())
    finally:
        receiver.stop()
    a, b = (next(r for r in receiver.requests if r.path == f"/{name}") for name in ("pager-a", "pager-b"))
    assert a.signature_ok and b.signature_ok, "each verifies under its own endpoint's secret"
    assert (a.key_id, b.key_id) == ("pager-a", "pager-b-2026"), "the header names the key"
    assert a.headers["x-incidents-signature"] != b.headers["x-incidents-signature"]
    from services.notifier.domain.signing import verify

    def verifies(secret: str, request) -> bool:
        return verify(secret, request.headers["x-incidents-timestamp"], request.headers["x-incidents-signature"],
                      request.raw, now=time.time())

    assert not verifies(SECRET_A, b) and not verifies(SECRET_B, a), "one endpoint's secret verifies no other's"


async def test_an_endpoint_without_a_key_is_never_sent_unsigned():
    async with httpx.AsyncClient(timeout=5) as client:
        result = await WebhookSender(client, lambda name: None, SystemClock()).send(outgoing("pager-a", "http://127.0.0.1:9"))
    assert result.outcome.value == "permanent" and "no signing secret" in result.error


@pytest.mark.parametrize(("extra", "environ", "problem"), [
    ({}, {}, "neither secret_env nor secret_file is set"),
    ({"secret_env": "PAGER_A_SECRET"}, {}, "environment variable PAGER_A_SECRET is unset or empty"),
    ({"secret_file": "absent.secret"}, {}, "absent.secret cannot be read"),
    ({"secret_env": "PAGER_A_SECRET"}, {"PAGER_A_SECRET": "short-secret"}, "shorter than 16 characters"),
    ({"secret_env": "PAGER_A_SECRET"}, {"PAGER_A_SECRET": "change-me-0123456789"}, "is a placeholder"),
])
def test_production_refuses_a_webhook_endpoint_without_a_good_secret_of_its_own(tmp_path, extra, environ, problem):
    path = routing(tmp_path, {"pager-a": extra})
    with pytest.raises(ConfigFileError) as caught:
        load_router(path, environ, EXISTS, production=True, fallback_secret=SECRET_B)
    message = str(caught.value)
    assert "endpoints.pager-a" in message and problem in message
    assert all(value not in message for value in environ.values()), "the message never shows a secret"
    assert SECRET_B not in message


def test_production_ignores_the_global_secret_and_needs_one_per_endpoint(tmp_path):
    path = routing(tmp_path, {"pager-a": {"secret_env": "PAGER_A_SECRET"}})
    settings = NotifierSettings(**PRODUCTION, notifier_routing_file=path, webhook_signing_secret=SECRET_B)
    with pytest.raises(ConfigFileError, match="PAGER_A_SECRET is unset"):
        build_router(settings, TemplateRenderer(), {})
    router = build_router(settings, TemplateRenderer(), {"PAGER_A_SECRET": SECRET_A})
    key = router.signing_key("pager-a")
    assert key is not None and key.key_id == "pager-a" and key.secret == SECRET_A


def test_development_uses_the_global_secret_for_endpoints_without_one_and_refuses_none_at_all(tmp_path):
    path = routing(tmp_path, {"pager-a": {"secret_env": "PAGER_A_SECRET"}, "pager-b": {}})
    settings = NotifierSettings(notifier_routing_file=path, webhook_signing_secret=SECRET_B)
    router = build_router(settings, TemplateRenderer(), {"PAGER_A_SECRET": SECRET_A})
    assert router.signing_key("pager-a").secret == SECRET_A
    assert (router.signing_key("pager-b").key_id, router.signing_key("pager-b").secret) == (DEVELOPMENT_KEY_ID, SECRET_B)
    with pytest.raises(ConfigFileError, match="without a signing secret: pager-b"):
        build_router(NotifierSettings(notifier_routing_file=path), TemplateRenderer(), {"PAGER_A_SECRET": SECRET_A})


def test_unconfigured_endpoints_need_no_secret_so_the_packaged_routing_starts_anywhere():
    settings = NotifierSettings(**PRODUCTION)
    assert build_router(settings, TemplateRenderer(), {}).unsigned_webhook_endpoints() == []
    env = {"PAGER_SERVICE_DESK_URL": "http://127.0.0.1:9/p"}
    with pytest.raises(ConfigFileError, match="PAGER_SERVICE_DESK_SECRET is unset"):
        build_router(settings, TemplateRenderer(), env)
    router = build_router(settings, TemplateRenderer(), {**env, "PAGER_SERVICE_DESK_SECRET": SECRET_A})
    assert router.signing_key("service-desk-pager").key_id == "service-desk-pager"


@pytest.mark.parametrize("endpoint", [
    {"url": "http://127.0.0.1:9/p", "secret_env": "A_SECRET", "secret_file": "a.secret"},
    {"url": "http://127.0.0.1:9/p", "secret": SECRET_A},
    {"url": "http://127.0.0.1:9/p", "secret_env": "lower_case"},
])
def test_secrets_are_referenced_never_written_in_the_routing_file(tmp_path, endpoint):
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "endpoints": {"pager-a": endpoint},
                                    "routes": [{"message": "ticket_received", "to": "reporter", "channels": ["email"]}]}))
    with pytest.raises(ConfigFileError) as caught:
        load_router(path, {}, EXISTS)
    assert SECRET_A not in str(caught.value)
