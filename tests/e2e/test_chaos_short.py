"""The fault harness in its short form: kill -9 every service, restart the broker and the docstore,
send poison, under steady load, then check that nothing was lost or done twice."""

from __future__ import annotations

import pytest

from bench.chaos import run

pytestmark = pytest.mark.e2e


async def test_nothing_is_lost_or_done_twice_under_faults(servers, capsys):
    held = await run(tickets=150, rate=5.0, settle_seconds=240)
    report = capsys.readouterr().out
    print(report)
    assert held, report
