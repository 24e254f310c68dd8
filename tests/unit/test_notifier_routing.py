"""The routing file: the packaged one loads, mistakes are reported clearly, resolution follows the rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.notifier.adapters.routing_file import DEFAULT_ROUTING_FILE, load_router
from services.notifier.adapters.templates import TemplateRenderer
from services.notifier.domain.messages import from_triaged
from services.notifier.domain.routing import Channel, Role
from shared.config_files import ConfigFileError
from shared.contracts import Reporter, Severity
from tests.factories import triaged

EXISTS = TemplateRenderer().exists


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def base() -> dict:
    return {
        "version": 1,
        "endpoints": {"pager": {"url": "http://127.0.0.1:9/page"}, "chat": {"url_env": "TEST_CHAT_URL"}},
        "contacts": {"oncall": {"name": "On-call", "email": "oncall@corp.example", "webhook": "pager"},
                     "room": {"name": "#room", "slack": "chat"}},
        "teams": {"service-desk": {"on_call": ["oncall"], "team": ["room"]}},
        "routes": [{"message": "ticket_received", "to": "reporter", "channels": ["email"]},
                   {"message": "ticket_assigned", "to": "on_call", "channels": ["webhook"], "severities": ["critical"]},
                   {"message": "ticket_assigned", "to": "team", "channels": ["slack"]}],
        "rate_limits": {"webhook": {"interval_seconds": 60}},
    }


def notice(**overrides):
    return from_triaged("01JTESTEVENT0000000000000A", triaged(**overrides))


def test_the_packaged_routing_file_is_valid():
    router = load_router(DEFAULT_ROUTING_FILE, {}, EXISTS)
    recipients = router.recipients("ticket_received", notice())
    assert [(r.role, r.channel, r.address) for r in recipients] == [(Role.REPORTER, Channel.EMAIL, "ada@example.com")]
    # endpoints are configured through the environment; unset means the page is skipped
    assert router.recipients("ticket_assigned", notice(severity=Severity.CRITICAL)) == []
    env = {"PAGER_SERVICE_DESK_URL": "http://127.0.0.1:9/p", "SLACK_SERVICE_DESK_URL": "http://127.0.0.1:9/s"}
    paged = load_router(DEFAULT_ROUTING_FILE, env, EXISTS).recipients("ticket_assigned", notice(severity=Severity.CRITICAL))
    assert {(r.role, r.channel) for r in paged} == {(Role.ON_CALL, Channel.WEBHOOK), (Role.TEAM, Channel.SLACK)}


def test_routes_filter_by_severity_and_team(tmp_path):
    router = load_router(write(tmp_path, base()), {"TEST_CHAT_URL": "http://127.0.0.1:9/chat"}, EXISTS)
    high = router.recipients("ticket_assigned", notice(severity=Severity.HIGH))
    assert [(r.key, r.channel) for r in high] == [("room", Channel.SLACK)]
    critical = router.recipients("ticket_assigned", notice(severity=Severity.CRITICAL))
    assert {(r.key, r.channel) for r in critical} == {("oncall", Channel.WEBHOOK), ("room", Channel.SLACK)}
    assert router.recipients("ticket_assigned", notice(team="senior-engineering")) == []
    assert router.rate_limit("webhook").interval_seconds == 60 and router.rate_limit("email") is None


def test_reporter_preference_replaces_channels_and_can_mute(tmp_path):
    config = base()
    config["reporters"] = {"ada@example.com": {"channels": ["webhook", "email"], "webhook": "pager"},
                           "r2": {"channels": ["email"], "mute": ["ticket_received"]}}
    router = load_router(write(tmp_path, config), {}, EXISTS)
    got = router.recipients("ticket_received", notice())
    assert {(r.channel, r.key, r.address) for r in got} == {
        (Channel.WEBHOOK, "reporter.r1", "pager"), (Channel.EMAIL, "ada@example.com", "ada@example.com")}
    muted = notice(reporter=Reporter(id="r2", name="Bob", email="bob@example.com"))
    assert router.recipients("ticket_received", muted) == []


def test_reporters_without_an_address_get_nothing(tmp_path):
    router = load_router(write(tmp_path, base()), {}, EXISTS)
    assert router.recipients("ticket_received", notice(reporter=Reporter(id="r9", name="Anon"))) == []


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c: c["teams"]["service-desk"].update(on_call=["ghost"]), "teams.service-desk.on_call: unknown contact 'ghost'"),
    (lambda c: c["contacts"]["oncall"].update(webhook="nowhere"), "contacts.oncall.webhook: unknown endpoint 'nowhere'"),
    (lambda c: c["routes"].append({"message": "ticket_exploded", "to": "team", "channels": ["slack"]}),
     "unknown message 'ticket_exploded'"),
    (lambda c: c["routes"][0].update(channels=["pigeon"]), "routes.0.channels.0"),
    (lambda c: c["routes"][0].update(to="boss"), "routes.0.to"),
    (lambda c: c.update(version=2), "version"),
    (lambda c: c.update(extra_key=1), "extra_key"),
    (lambda c: c["endpoints"].update(both={"url": "http://x", "url_env": "X"}), "exactly one of url or url_env"),
    (lambda c: c["routes"][1].update(teams=["nobody"]), "unknown team 'nobody'"),
])
def test_mistakes_stop_the_start_with_a_clear_error(tmp_path, mutate, expected):
    config = base()
    mutate(config)
    with pytest.raises(ConfigFileError, match="invalid") as info:
        load_router(write(tmp_path, config), {}, EXISTS)
    assert expected in str(info.value)


def test_missing_templates_are_named(tmp_path):
    config = base()
    config["routes"].append({"message": "ticket_received", "to": "reporter", "channels": ["webhook"]})
    with pytest.raises(ConfigFileError, match="without templates: ticket_received.webhook.txt.j2"):
        load_router(write(tmp_path, config), {}, lambda m, c, f: not (c == "webhook" and m == "ticket_received"))


def test_unreadable_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_router(tmp_path / "absent.yaml", {}, EXISTS)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigFileError, match="mapping"):
        load_router(tmp_path / "list.yaml", {}, EXISTS)
    (tmp_path / "bad.yaml").write_text("a: [\n")
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        load_router(tmp_path / "bad.yaml", {}, EXISTS)
