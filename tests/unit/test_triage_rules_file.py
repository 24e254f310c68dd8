"""The rules file: the packaged defaults load, a bad file is refused with the line that is wrong."""

from datetime import timedelta
from pathlib import Path

import pytest

from shared.contracts import Severity
from services.triage.bootstrap import build_app
from services.triage.rules_file import DEFAULT_RULES_FILE, RulesFileError, load_policy, parse_policy
from services.triage.settings import TriageSettings

DEFAULT_TEXT = DEFAULT_RULES_FILE.read_text()


def line_of(text: str, needle: str) -> int:
    """Return the 1-based line on which needle first appears."""
    return text[: text.index(needle)].count("\n") + 1


def test_the_packaged_rules_are_the_spec_defaults():
    policy = load_policy()
    assert policy.duplicate_window == timedelta(hours=24)
    assert policy.rulebook.teams == {1: "service-desk", 2: "technical-support", 3: "senior-engineering", 4: "vendor-management"}
    assert policy.rulebook.default_severity is Severity.MEDIUM
    assert policy.carry_over_spent_time is True


@pytest.mark.parametrize(
    ("old", "new", "anchor", "message"),
    [
        ("severity: low\n      reason: feature", "severity: urgent\n      reason: feature", "severity: urgent",
         "severity.rules.0.severity: Input should be"),
        ("'\\boutage\\b'", "'(unclosed'", "'(unclosed'", "invalid regular expression"),
        ("window_hours: 24", "window_hours: -1", "window_hours: -1", "greater than 0"),
        ("timezone: UTC", "timezone: Mars/Olympus", "timezone: Mars", "unknown time zone"),
        ("critical: {response: {hours: 0.25}", "critical: {response: {hours: 0.25, business_days: 1}",
         "critical: {response", "exactly one of `hours` or `business_days`"),
        ("end: \"17:00\"", "end: 17:00", "end: 17:00", "write times in quotes"),
        ("weekend: [saturday, sunday]", "weekend: [saturday, caturday]", "weekend:", "unknown weekday"),
        ("country: US", "country: XX", "holidays:", "does not know"),
        ("    4: vendor-management\n", "", "routing:", "no team for Tier 4"),
        ("      when: {users_affected_at_least: 100}", "      when: {users_affected_over: 100}",
         "users_affected_over", "Extra inputs are not permitted"),
        ("    low: {response: {business_days: 1}, resolution: {business_days: 5}}\n", "", "  targets:",
         "targets missing for low"),
        ("  default_tier: 2\n", "  default_tier: 2\n  default_tier: 3\n", "default_tier: 3", "appears twice"),
        ("    - id: critical-large-group", "    - id: critical-text", "    - id: critical-text\n      severity: critical\n      reason: \"{users",
         "used twice"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(old, new, anchor, message):
    assert old in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(old, new, 1)
    with pytest.raises(RulesFileError) as caught:
        parse_policy(text, "rules.yaml")
    expected_line = line_of(text, anchor)
    assert f"rules.yaml:{expected_line}:" in str(caught.value)
    assert message in str(caught.value)


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
    with pytest.raises(RulesFileError, match=message) as caught:
        parse_policy(text, "rules.yaml")
    assert f"rules.yaml:{line}:" in str(caught.value)


def test_a_bad_file_stops_the_service_at_start(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(DEFAULT_TEXT.replace("window_hours: 24", "window_hours: soon"))
    with pytest.raises(RulesFileError, match=rf"{path}:\d+: duplicates.window_hours"):
        build_app(TriageSettings(triage_rules_file=path))
    with pytest.raises(RulesFileError, match="cannot read"):
        build_app(TriageSettings(triage_rules_file=tmp_path / "missing.yaml"))


def test_the_rules_file_setting_changes_behaviour(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        DEFAULT_TEXT.replace("window_hours: 24", "window_hours: 2")
        .replace("medium: {response: {hours: 4}", "medium: {response: {hours: 2}")
        .replace("timezone: UTC", "timezone: Europe/London")
    )
    policy = load_policy(TriageSettings(triage_rules_file=path).triage_rules_file)
    assert policy.duplicate_window == timedelta(hours=2)
    assert policy.sla.targets[Severity.MEDIUM].response.describe() == "2 hours"
    assert str(policy.sla.calendar.timezone) == "Europe/London"
