"""Retrying a record of outside work while the database is briefly unreachable."""

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from shared.persistence import while_unreachable


async def test_retries_until_the_database_answers():
    calls = []

    async def record():
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("connection refused")
        return "recorded"

    assert await while_unreachable(record, for_seconds=5, pause_seconds=0.01) == "recorded"
    assert len(calls) == 3


async def test_gives_up_after_its_time_and_never_retries_other_errors():
    async def unreachable():
        raise AutoReconnect("connection refused")

    with pytest.raises(AutoReconnect):
        await while_unreachable(unreachable, for_seconds=0.05, pause_seconds=0.01)

    calls = []

    async def refused():
        calls.append(1)
        raise OperationFailure("bad update")

    with pytest.raises(OperationFailure):
        await while_unreachable(refused, for_seconds=5, pause_seconds=0.01)
    assert len(calls) == 1
