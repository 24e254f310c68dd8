"""The Alertmanager webhook body (payload version 4), validated at the boundary.

Unknown fields are ignored (Alertmanager may add some); what we read is bounded. Label and
annotation maps become (name, value) pairs: data, never field names of a stored document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.domain.alert_groups import Alert, Notification

LabelName = Annotated[str, Field(min_length=1, max_length=256)]
LabelValue = Annotated[str, Field(max_length=10_000)]
LabelMap = Annotated[dict[LabelName, LabelValue], Field(max_length=200)]


class Lenient(BaseModel):
    """Fields Alertmanager may add later are ignored."""

    model_config = ConfigDict(extra="ignore")


def pairs(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Return a label map as sorted (name, value) pairs."""
    return tuple(sorted(labels.items()))


class AlertIn(Lenient):
    """One alert of a notification."""

    status: Literal["firing", "resolved"]
    labels: LabelMap = {}
    annotations: LabelMap = {}
    startsAt: datetime | None = None  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str | None = Field(default=None, max_length=2000)  # noqa: N815
    fingerprint: str = Field(pattern=r"^[0-9a-fA-F]{1,64}$")

    def to_alert(self) -> Alert:
        """Return the domain alert."""
        return Alert(fingerprint=self.fingerprint.lower(), status=self.status, labels=pairs(self.labels),
                     annotations=pairs(self.annotations), starts_at=self.startsAt, ends_at=self.endsAt,
                     generator_url=self.generatorURL)


class AlertmanagerPayload(Lenient):
    """A webhook notification: one alert group with its alerts."""

    version: str
    groupKey: str = Field(min_length=1, max_length=10_000)  # noqa: N815
    truncatedAlerts: int = Field(default=0, ge=0)  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = Field(default="", max_length=1000)
    groupLabels: LabelMap = {}  # noqa: N815
    commonLabels: LabelMap = {}  # noqa: N815
    commonAnnotations: LabelMap = {}  # noqa: N815
    externalURL: str | None = Field(default=None, max_length=2000)  # noqa: N815
    alerts: list[AlertIn] = Field(min_length=1, max_length=10_000)

    @field_validator("version")
    @classmethod
    def _version_4(cls, value: str) -> str:
        if value != "4":
            raise ValueError("only webhook payload version 4 (Alertmanager 0.16 and later) is supported")
        return value

    def to_notification(self) -> Notification:
        """Return the domain notification."""
        return Notification(group_key=self.groupKey, receiver=self.receiver, group_labels=pairs(self.groupLabels),
                            common_labels=pairs(self.commonLabels), common_annotations=pairs(self.commonAnnotations),
                            external_url=self.externalURL, alerts=tuple(a.to_alert() for a in self.alerts),
                            truncated_alerts=self.truncatedAlerts)
