"""The on-call domain stays pure: no I/O or service imports, no reading the clock, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import services.escalation.domain.oncall as oncall

PACKAGE = Path(oncall.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
ALLOWED = {"__future__", "collections", "dataclasses", "datetime", "typing", "uuid", "zoneinfo",
           "services.escalation.domain.oncall"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}  # as attributes: datetime.now()
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "urlopen"}


def imported(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
    return found


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_imports_only_the_standard_library_and_its_own_package(path):
    names = imported(ast.parse(path.read_text()))
    allowed = ALLOWED | ({"icalendar"} if path.name == "ical.py" else set())
    strays = {n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)}
    assert not strays, f"{path.name} imports {strays}"


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_neither_reads_the_clock_nor_opens_files_and_stays_small(path):
    text = path.read_text()
    nodes = [node.func for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call)]
    methods = {f.attr for f in nodes if isinstance(f, ast.Attribute)}
    functions = {f.id for f in nodes if isinstance(f, ast.Name)}
    assert not methods & CLOCK_READS, f"{path.name} reads the clock: {methods & CLOCK_READS}"
    assert not (methods | functions) & FILE_CALLS, f"{path.name} does I/O: {(methods | functions) & FILE_CALLS}"
    assert len(text.splitlines()) < 250
