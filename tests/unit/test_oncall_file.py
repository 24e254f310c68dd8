"""The on-call YAML file: loaded into the domain, and every bad input refused naming file:line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.escalation.adapters.oncall_build import to_parts
from services.escalation.adapters.oncall_file import load_oncall_file, parse_oncall
from services.escalation.adapters.oncall_models import OnCallDocument
from services.escalation.service_layer.oncall_catalog import OnCallProblem, build
from shared.config_files import ConfigFileError
from tests.oncall_builders import SENIOR_YAML, senior_config

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "escalation" / "oncall.example.yaml"


def refusal(text: str) -> str:
    """Return the message a file with this text is refused with (by the loader or when combined)."""
    try:
        build(parse_oncall(text, "oncall.yaml"), OnCallDocument())
    except (ConfigFileError, OnCallProblem) as exc:
        return str(exc)
    raise AssertionError("the file was accepted")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """Return the 1-based line of the n-th line containing needle."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_the_packaged_example_loads_and_combines():
    file = load_oncall_file(EXAMPLE)
    config = build(file, OnCallDocument())
    assert set(config.people) == {"ada", "grace", "linus", "margaret"}
    assert config.policy_for("senior-engineering", 3).lead == "margaret"
    assert config.source("schedule", "senior-primary") == "file"


def test_the_test_team_file_gives_the_domain_objects():
    config = senior_config()
    rotation = config.schedules["senior"].layers[0].rotation
    assert rotation.participants == ("ada", "bob") and rotation.length.kind == "days"
    assert [s.delay_minutes for s in config.policy_for("senior-engineering", 3).steps] == [5, 10]


BAD = {
    "empty rotation": (("participants: [ada, bob]", "participants: []"), "participants: []",
                       "schedules[0].layers[0].rotation.participants: must not be empty"),
    "zero delay": (("delay_minutes: 5", "delay_minutes: 0"), "delay_minutes: 0",
                   "policies[0].steps[0].delay_minutes: must be a whole number >= 1"),
    "unknown rotation zone": (("          time_zone: UTC", "          time_zone: Europe/Atlantis"),
                              "Europe/Atlantis", "schedules[0].layers[0].rotation.time_zone: unknown time zone"),
    "unknown person zone": (("time_zone: Europe/London", "time_zone: Mars/Olympus"), "Mars/Olympus",
                            "people[0].time_zone: unknown time zone 'Mars/Olympus'"),
    "missing schedule": (("targets: [{schedule: senior}]", "targets: [{schedule: seniors}]"), "seniors",
                         "policies.senior-engineering/tier-3.steps[0].targets[0].ref: no schedule 'seniors'"),
    "unknown participant": (("participants: [ada, bob]", "participants: [ada, zed]"), "zed",
                            "schedules.senior.layers[0].rotation.participants: no person 'zed'"),
    "unknown lead": (("lead: dee", "lead: nobody"), "lead: nobody", "policies.senior-engineering/tier-3.lead"),
    "unquoted hand-off time": (('handoff: "09:00"', "handoff: 9:00"), "handoff: 9:00", "write times of day in quotes"),
    "two shift lengths": (("shift: {days: 1}", "shift: {days: 1, hours: 8}"), "shift:",
                          "give exactly one of hours, days or weeks"),
    "naive start": (("start: 2026-01-05T09:00:00Z", "start: 2026-01-05T09:00:00"), "start:",
                    "schedules.0.layers.0.rotation.start"),
    "unknown key": (("    repeats: 1", "    repeat: 1"), "repeat: 1", "Extra inputs are not permitted"),
    "channel that is no team role": (("{channel: team}", "{channel: '#random'}"), "#random",
                                     "a channel target names a team role"),
}


@pytest.mark.parametrize("change, needle, message", BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_refused_naming_the_file_line_and_field(change, needle, message):
    text = SENIOR_YAML.replace(*change)
    assert text != SENIOR_YAML
    refused = refusal(text)
    assert message in refused
    assert f"oncall.yaml:{line_of(text, needle)}:" in refused, refused


def test_overlapping_membership_changes_are_refused():
    text = SENIOR_YAML.replace('          time_zone: UTC\n', '          time_zone: UTC\n          changes:\n'
                               '            - {effective_at: 2026-02-01T00:00:00Z, participants: [ada]}\n'
                               '            - {effective_at: 2026-01-20T00:00:00Z, participants: [bob]}\n', 1)
    refused = refusal(text)
    assert "schedules[0].layers[0].rotation.changes: memberships overlap" in refused
    assert f"oncall.yaml:{line_of(text, 'changes:')}:" in refused


def test_two_covers_for_the_same_person_at_overlapping_times_are_refused():
    text = SENIOR_YAML + """\
overrides:
  - {id: a, schedule: senior, kind: replace, person: eve, instead_of: ada, start: 2026-01-05T08:00:00Z, end: 2026-01-05T12:00:00Z}
  - {id: b, schedule: senior, kind: replace, person: cy, instead_of: ada, start: 2026-01-05T11:00:00Z, end: 2026-01-05T13:00:00Z}
"""
    refused = refusal(text)
    assert "overrides.b.start: overlaps override 'a'" in refused
    assert f"oncall.yaml:{line_of(text, '{id: b,')}:" in refused


def test_an_id_used_twice_is_refused_by_the_shared_loader():
    text = SENIOR_YAML.replace("  - {id: eve,", "  - {id: ada,")
    assert "people.4.id: 'ada' is used twice" in refusal(text)


@settings(max_examples=60, deadline=None)
@given(in_file=st.sets(st.sampled_from(["p1", "p2", "p3", "p4"])), stored=st.sets(st.sampled_from(["p1", "p2", "p3", "p4"])))
def test_the_file_wins_for_every_item_it_defines_and_the_stored_ones_fill_in(in_file, stored):
    from services.escalation.adapters.oncall_models import PersonModel
    from services.escalation.domain.oncall.config import combine

    def people(ids, source):
        return [PersonModel(id=i, name=f"{i} from {source}", email=f"{i}@{source}.example", time_zone="UTC")
                for i in sorted(ids)]
    file = parse_oncall(yaml.safe_dump({"version": 1, "people": [p.model_dump() for p in people(in_file, "file")]}),
                        "oncall.yaml")
    config = combine(file.parts, to_parts(OnCallDocument(people=people(stored, "api"))))
    assert set(config.people) == in_file | stored
    for person_id, person in config.people.items():
        expected = "file" if person_id in in_file else "api"
        assert person.name == f"{person_id} from {expected}" and config.source("person", person_id) == expected
