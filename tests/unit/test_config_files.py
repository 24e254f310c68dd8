"""Configuration files: the packaged defaults load; a bad file is refused with the file, line and field."""

from datetime import timedelta
from pathlib import Path

import pytest

from services.escalation.adapters.policy_file import DEFAULT_POLICY_FILE, PolicyFile
from services.triage.adapters.rules_file import (
    DEFAULT_RULES_FILE,
    RulesFile,
    load_rules,
)
from services.triage.bootstrap import build_app
from services.triage.settings import TriageSettings
from shared.config_files import ConfigFileError, parse_config
from shared.contracts import Severity
from shared.sla.config import (
    DEFAULT_SERVICE_LEVELS_FILE,
    ServiceLevelsFile,
    load_service_levels,
)

RULES = DEFAULT_RULES_FILE.read_text()
LEVELS = DEFAULT_SERVICE_LEVELS_FILE.read_text()
POLICY = DEFAULT_POLICY_FILE.read_text()


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line on which needle first appears."""
    return text[: text.index(needle)].count("\n") + 1


def test_the_packaged_files_are_the_spec_defaults():
    levels = load_service_levels()
    policy = load_rules(levels)
    assert policy.duplicate_window == timedelta(hours=24)
    assert levels.teams == {1: "service-desk", 2: "technical-support", 3: "senior-engineering", 4: "vendor-management"}
    assert policy.rulebook.teams == levels.teams
    assert policy.rulebook.default_severity is Severity.MEDIUM
    assert levels.sla.carry_over_spent_time is True
    assert levels.sla.warning_fractions == (0.75, 0.9)
    assert levels.sla.at_risk_fraction == 0.75
    assert levels.sla.handoff.describe() == "2 hours"


@pytest.mark.parametrize(
    ("old", "new", "anchor", "message"),
    [
        ("severity: low\n      reason: feature", "severity: urgent\n      reason: feature", "severity: urgent",
         "severity.rules.0.severity: Input should be"),
        ("'\\boutage\\b'", "'(unclosed'", "'(unclosed'", "invalid regular expression"),
        ("window_hours: 24", "window_hours: -1", "window_hours: -1", "greater than 0"),
        ("      when: {users_affected_at_least: 100}", "      when: {users_affected_over: 100}",
         "users_affected_over", "Extra inputs are not permitted"),
        ("  default_tier: 2\n", "  default_tier: 2\n  default_tier: 3\n", "default_tier: 3", "appears twice"),
        ("    - id: critical-large-group", "    - id: critical-text",
         "    - id: critical-text\n      severity: critical\n      reason: \"{users", "used twice"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_line(old, new, anchor, message):
    assert old in RULES
    text = RULES.replace(old, new, 1)
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, RulesFile, source="rules.yaml")
    assert f"rules.yaml:{line_of(text, anchor)}:" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "anchor", "message"),
    [
        ("timezone: UTC", "timezone: Mars/Olympus", "timezone: Mars", "unknown time zone"),
        ("critical: {response: {hours: 0.25}", "critical: {response: {hours: 0.25, business_days: 1}",
         "critical: {response", "exactly one of `hours` or `business_days`"),
        ("end: \"17:00\"", "end: 17:00", "end: 17:00", "write times in quotes"),
        ("weekend: [saturday, sunday]", "weekend: [saturday, caturday]", "weekend:", "unknown weekday"),
        ("country: US", "country: XX", "holidays:", "does not know"),
        ("  4: vendor-management     # vendor escalation (external partners)\n", "", "tiers:", "no team for Tier 4"),
        ("    low: {response: {business_days: 1}, resolution: {business_days: 5}}\n", "", "  targets:",
         "targets missing for low"),
        ("warning_fractions: [0.75, 0.9]", "warning_fractions: [0.75, 1.5]", "warning_fractions:",
         "strictly between 0 and 1"),
    ],
)
def test_a_bad_service_levels_file_is_refused_naming_the_line(old, new, anchor, message):
    assert old in LEVELS
    text = LEVELS.replace(old, new, 1)
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, ServiceLevelsFile, source="service_levels.yaml")
    assert f"service_levels.yaml:{line_of(text, anchor)}:" in str(caught.value)
    assert message in str(caught.value)


def test_a_bad_escalation_policy_is_refused_naming_the_line():
    text = POLICY.replace("  acme: {name: ACME Cloud Services, answer_hours: 4, update_hours: 24}",
                          "  acme: {name: ACME Cloud Services, answer_hours: -4, update_hours: 24}")
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, PolicyFile, source="policy.yaml")
    assert f"policy.yaml:{line_of(text, 'acme: {name')}: vendors.acme.answer_hours" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("severity: [\n", 2, "not valid YAML"),
        ("severity:\n  rules: [a, b\n  x: 1\n", 3, "not valid YAML"),
        ("- just a list\n", 1, "must be a mapping"),
        ("", 1, "must be a mapping"),
    ],
)
def test_broken_yaml_is_refused_naming_the_line(text, line, message):
    with pytest.raises(ConfigFileError, match=message) as caught:
        parse_config(text, RulesFile, source="rules.yaml")
    assert f"rules.yaml:{line}:" in str(caught.value)


def test_a_bad_file_stops_the_service_at_start(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("window_hours: 24", "window_hours: soon"))
    with pytest.raises(ConfigFileError, match=rf"{path}:\d+: duplicates.window_hours"):
        build_app(TriageSettings(triage_rules_file=path))
    with pytest.raises(ConfigFileError, match="cannot read"):
        build_app(TriageSettings(triage_rules_file=tmp_path / "missing.yaml"))
    levels = tmp_path / "levels.yaml"
    levels.write_text(LEVELS.replace("timezone: UTC", "timezone: Nowhere/Land"))
    with pytest.raises(ConfigFileError, match=rf"{levels}:\d+: calendar.timezone"):
        build_app(TriageSettings(service_levels_file=levels))


def test_the_file_settings_change_behaviour(tmp_path: Path):
    rules, levels = tmp_path / "rules.yaml", tmp_path / "levels.yaml"
    rules.write_text(RULES.replace("window_hours: 24", "window_hours: 2"))
    levels.write_text(LEVELS.replace("medium: {response: {hours: 4}", "medium: {response: {hours: 2}")
                      .replace("timezone: UTC", "timezone: Europe/London"))
    settings = TriageSettings(triage_rules_file=rules, service_levels_file=levels)
    policy = load_rules(load_service_levels(settings.service_levels_file), settings.triage_rules_file)
    assert policy.duplicate_window == timedelta(hours=2)
    assert policy.sla.allowances[Severity.MEDIUM].response.describe() == "2 hours"
    assert str(policy.sla.calendar.timezone) == "Europe/London"
