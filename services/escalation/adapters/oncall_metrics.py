"""The coverage-gap gauge: seconds of the coming days in which a team's schedule has nobody on call."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge

GAP_GAUGE = "incidents_oncall_coverage_gap_seconds"


class CoverageGauge:
    """`incidents_oncall_coverage_gap_seconds{team}`: gap seconds within the look-ahead; teams that left are removed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(GAP_GAUGE, "Seconds of the next ONCALL_GAP_HORIZON_DAYS in which some on-call schedule of "
                           "the team has nobody on call (overrides included).", ["team"], registry=registry)
        self._teams: set[str] = set()

    def set(self, seconds_by_team: Mapping[str, float]) -> None:
        """Show these teams' gap seconds; teams no longer configured disappear."""
        for team in self._teams - set(seconds_by_team):
            self.gauge.remove(team)
        for team, seconds in seconds_by_team.items():
            self.gauge.labels(team).set(seconds)
        self._teams = set(seconds_by_team)
