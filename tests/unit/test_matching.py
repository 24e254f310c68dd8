from datetime import UTC, datetime

import pytest

from shared.matching import matches

DOC = {"_id": "t1", "status": "open", "applied": ["a", "b"], "rev": 3, "lease_until": None,
       "outbox": [{"event_id": "e1"}, {"event_id": "e2"}], "sla": {"due": datetime(2026, 1, 5, tzinfo=UTC)},
       "steps": [{"name": "warn", "fired": True}]}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({}, True),
        ({"status": "open"}, True),
        ({"status": "closed"}, False),
        ({"applied": {"$ne": "c"}}, True),
        ({"applied": {"$ne": "a"}}, False),
        ({"applied": "b"}, True),
        ({"outbox.0.event_id": "e1"}, True),
        ({"outbox.0.event_id": "e2"}, False),
        ({"outbox.event_id": "e2"}, True),
        ({"outbox.0": {"$exists": True}}, True),
        ({"outbox.5": {"$exists": True}}, False),
        ({"missing": None}, True),
        ({"lease_until": None}, True),
        ({"missing": {"$exists": False}}, True),
        ({"rev": {"$gte": 3, "$lt": 4}}, True),
        ({"rev": {"$gt": 3}}, False),
        ({"sla.due": {"$lte": datetime(2026, 1, 6, tzinfo=UTC)}}, True),
        ({"status": {"$in": ["open", "on_hold"]}}, True),
        ({"status": {"$nin": ["open"]}}, False),
        ({"$or": [{"lease_until": {"$lt": 5}}, {"lease_until": None}]}, True),
        ({"steps.name": "warn", "status": "open"}, True),
    ],
)
def test_matches_follows_mongodb_semantics(condition, expected):
    assert matches(DOC, condition) is expected


def test_unsupported_operators_fail_loudly():
    with pytest.raises(NotImplementedError):
        matches(DOC, {"status": {"$regex": "o"}})
