"""Schemathesis against the live intake API: no 5xx, and every response matches the OpenAPI document."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])


@pytest.mark.parametrize("role", ["reporter", "agent"])
def test_schemathesis_finds_no_server_errors_or_schema_violations(system, role, tmp_path):
    key = system.create_key(role, f"Fuzz {role}", f"fuzz-{role}@example.com")
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", system.url("intake") + "/openapi.json",
        "--checks", CHECKS, "--max-examples", os.environ.get("FUZZ_EXAMPLES", "15"),
        "--header", f"Authorization: Bearer {key}", "--generation-deterministic", "--request-timeout", "10",
        "--report-junit-path", str(tmp_path / "junit.xml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
