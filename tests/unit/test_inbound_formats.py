"""The formats sources speak: Events API v2 events as PagerDuty documents them (and their errors), Slack text,
integration options, and triage keeping a source's pinned severity."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.chat import ChatReport, answer, chat_fields, escape, plain_text
from services.intake.domain.events_v2 import InvalidEvent, parse_event
from services.intake.domain.integrations import (
    Integration,
    InvalidIntegration,
    Kind,
    parse_severity_map,
    validate,
)
from services.intake.entrypoints.alertmanager_schema import AlertmanagerPayload
from services.triage.domain.classification import Report, classify
from shared.contracts import IncidentType, Severity, TicketKind

# PagerDuty's documented example trigger ("Send an Alert Event"), verbatim apart from the key
DOCS_TRIGGER = {
    "payload": {
        "summary": "Example alert on host1.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
        "severity": "info",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "custom_details": {"ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": "samplekeyhere",
    "dedup_key": "samplekeyhere",
    "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                "href": "https://example.com/", "alt": "Example text"}],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}


def test_the_documented_trigger_acknowledge_and_resolve_are_valid():
    event = parse_event(DOCS_TRIGGER)
    assert event.action == "trigger" and event.severity == "info" and event.component == "postgres"
    assert event.timestamp == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert json.loads(event.custom_details) == {"ping time": "1500ms", "load avg": 0.75}
    assert event.links[0]["href"] == "https://example.com/" and event.images[0]["alt"] == "Example text"
    for action in ("acknowledge", "resolve"):
        assert parse_event({"routing_key": "k", "dedup_key": "d", "event_action": action}).action == action


@pytest.mark.parametrize(("change", "named"), [
    ({"event_action": "explode"}, "'event_action' must be one of trigger, acknowledge, resolve"),
    ({"event_action": None}, "'event_action' is missing or blank"),
    ({"payload": {**DOCS_TRIGGER["payload"], "summary": ""}}, "'payload.summary' is missing or blank"),
    ({"payload": {**DOCS_TRIGGER["payload"], "summary": "x" * 1025}}, "'payload.summary' is longer than 1024"),
    ({"payload": {**DOCS_TRIGGER["payload"], "severity": "fatal"}}, "'payload.severity' must be one of"),
    ({"payload": {**DOCS_TRIGGER["payload"], "source": None}}, "'payload.source' is missing or blank"),
    ({"payload": {**DOCS_TRIGGER["payload"], "timestamp": "yesterday"}}, "'payload.timestamp' must be an ISO 8601"),
    ({"payload": "text"}, "'payload' is missing or not an object"),
    ({"dedup_key": "d" * 256}, "'dedup_key' must be a string of at most 255 characters"),
    ({"links": [{"href": "javascript:alert(1)"}]}, "'links[0].href' must be an http(s) URL"),
    ({"images": [{"alt": "no src"}]}, "'images[0].src' is missing"),
])
def test_errors_name_the_field(change, named):
    body = {**DOCS_TRIGGER, **change}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(InvalidEvent) as refused:
        parse_event(body)
    assert any(named in error for error in refused.value.errors), refused.value.errors


def test_acknowledge_and_resolve_need_a_dedup_key():
    with pytest.raises(InvalidEvent, match="'dedup_key' is required to resolve"):
        parse_event({"routing_key": "k", "event_action": "resolve"})


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["routing_key", "event_action", "dedup_key", "payload", "links", "images",
                                        "client", "client_url"]), json_values, max_size=8))
def test_any_json_is_an_event_or_a_list_of_named_errors(body):
    try:
        parse_event(body)
    except InvalidEvent as refused:
        assert refused.errors and all(isinstance(error, str) for error in refused.errors)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_is_a_notification_or_a_validation_error(body):
    from pydantic import ValidationError
    try:
        AlertmanagerPayload.model_validate(body)
    except ValidationError:
        pass


# --- Slack -----------------------------------------------------------------------------------------

SLACK = Integration(id="01JDDDDDDDDDDDDDDDDDDDDDDD", kind=Kind.SLACK, name="slack", team="technical-support",
                    signing_secret_env="SLACK_SIGNING_SECRET", critical_channel="C0CRITICAL")


def test_slack_text_loses_the_mention_and_keeps_the_words():
    assert plain_text("<@U0LAN0Z89> checkout &lt;500&gt; on <https://shop.example|the shop>") == \
        "checkout <500> on the shop"
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    link = answer("INC-000007", "<!here> broke", "http://x/tickets/INC-000007", "critical")
    assert "<http://x/tickets/INC-000007|INC-000007>" in link and "&lt;!here&gt;" in link and "Critical" in link


def test_a_mention_in_critical_incidents_is_critical_and_pinned_elsewhere_triage_decides():
    here = chat_fields(SLACK, ChatReport("T1", "C0CRITICAL", "U1", "<@UBOT> payments failing"))
    assert here["reported_severity"] == "critical" and here["severity_pinned"] and here["title"] == "payments failing"
    elsewhere = chat_fields(SLACK, ChatReport("T1", "C0RANDOM", "U1", "<@UBOT> payments failing"))
    assert elsewhere["reported_severity"] is None and not elsewhere["severity_pinned"]


# --- integration options -----------------------------------------------------------------------------

TEAMS = {"service-desk", "technical-support", "senior-engineering", "vendor-management"}


@pytest.mark.parametrize(("options", "named"), [
    ({"name": "Bad Name"}, "--name"), ({"team": "nobody"}, "--team"), ({"rate_per_minute": 0}, "--rate-per-minute"),
    ({"kind": Kind.SLACK}, "--signing-secret-env"),
    ({"kind": Kind.SLACK, "signing_secret_env": "MONGODB_URL"}, "--signing-secret-env"),
    ({"kind": Kind.SLACK, "signing_secret_env": "SLACK_X", "critical_channel": "#critical"}, "--critical-channel"),
    ({"critical_channel": "C0123"}, "for --kind slack"),
])
def test_integration_options_are_checked(options, named):
    base = {"id": "01JDDDDDDDDDDDDDDDDDDDDDDD", "kind": Kind.ALERTMANAGER, "name": "checkout", "team": "technical-support"}
    with pytest.raises(InvalidIntegration, match=named):
        validate(Integration(**{**base, **options}), TEAMS)


def test_severity_maps_are_word_equals_severity():
    assert parse_severity_map("page=critical, WARNING=high")["warning"] is Severity.HIGH
    with pytest.raises(InvalidIntegration, match="--severity-map"):
        parse_severity_map("warning=urgent")


# --- triage keeps a pinned severity -------------------------------------------------------------------

def test_triage_keeps_a_pinned_severity_over_its_text_rules():
    from services.triage.adapters.rules_file import load_rules
    from shared.sla.config import load_service_levels

    rulebook = load_rules(load_service_levels()).rulebook
    words = {"kind": TicketKind.INCIDENT, "type": IncidentType.INFRASTRUCTURE, "title": "Minor typo in docs",
             "description": "cosmetic"}
    assert classify(Report(**words, reported_severity=Severity.CRITICAL), rulebook).severity is Severity.LOW
    pinned = classify(Report(**words, reported_severity=Severity.CRITICAL, severity_pinned=True), rulebook)
    assert pinned.severity is Severity.CRITICAL and pinned.rule == "source" and pinned.tier == 3
