"""Several events' changes of one ticket as one update: computed as one write each would see the ticket (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import bson
import pytest
from bson.codec_options import CodecOptions

from services.intake.adapters.combined_changes import Change, NotCombinable, combined_update
from shared.packing import unpack_all

CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)
AT = datetime(2026, 12, 1, 9, 30, 15, 123_456, tzinfo=UTC)


def stored(value):
    return bson.decode(bson.encode({"v": value}), codec_options=CODEC)["v"]


def ticket() -> dict:
    return {"_id": "T1", "rev": 4, "status": "open", "sla": {"response_target": "4h"}, "timeline_seq": 3,
            "timeline": [{"seq": n, "action": "x"} for n in range(3)], "applied_events": ["e0"]}


def test_a_later_change_reads_the_ticket_as_the_database_gives_back_the_earlier_ones():
    seen = []

    def second(current: dict) -> dict:
        seen.append(current["sla"]["response_due_at"])
        return {"status": "in_progress"}

    update = combined_update(ticket(), [Change({"sla.response_due_at": AT}, [{"action": "a"}], "e1"),
                                        Change(second, lambda current: [{"action": "b"}], "e2")], stored)
    assert seen == [AT.replace(microsecond=123_000)], "milliseconds, as stored"
    assert update["$set"] == {"sla": {"response_target": "4h", "response_due_at": AT.replace(microsecond=123_000)},
                              "status": "in_progress", "timeline_seq": 5, "applied_events": ["e0", "e1", "e2"]}
    assert [(e["seq"], e["action"]) for e in unpack_all(update["$push"]["timeline"]["$each"])] == [(3, "a"), (4, "b")]


@pytest.mark.parametrize("changes, reason", [
    ([Change({"status": "closed"}, [], "e0")], "already applied"),
    ([Change({"applied_events": []}, [], "e1")], "sets applied_events"),
    ([Change({"timeline.0.action": "y"}, [], "e1")], "sets timeline"),
    ([Change({"status.code": 1}, [], "e1")], "not a document"),
    ([], "no changes"),
])
def test_changes_that_cannot_be_one_update_are_refused(changes, reason):
    with pytest.raises(NotCombinable, match=reason):
        combined_update(ticket(), changes, stored)


def test_the_ticket_read_is_left_as_it_was():
    current = ticket()
    combined_update(current, [Change({"sla.response_target": "8h", "tier": 2}, [{"action": "a"}], "e1")], stored)
    assert current == ticket(), "a retry of the write computes from the ticket it reads again"
