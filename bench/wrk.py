"""wrk as the benchmarks' HTTP load generator: POST /v1/tickets at saturation from a C client.

A Python client on this 2-core machine spends ~7 ms of CPU per ticket (measured in the pipeline
benchmark), taken from the services it measures; wrk's share is a fraction of that. wrk is a
Debian package: apt-get install wrk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BODY, ROOT
from bench.system import free_port
from shared.ids import new_id

BARE_APP = """
from fastapi import FastAPI
from services.intake.entrypoints.schemas import TicketCreate
app = FastAPI()
@app.post("/v1/tickets", status_code=201)
async def create(body: TicketCreate) -> dict:
    return body.model_dump(mode="json")
"""

LUA = """
-- POST a ticket body, each with its own title, keep created ids if asked, print wrk's summary as JSON.
local body = [==[%(body)s]==]
local ids_dir = %(ids_dir)s
local counter = 0
local made = 0

function setup(thread)
  made = made + 1
  thread:set("thread_no", made)  -- a global of that thread's own Lua state
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  %(auth)s
  if ids_dir then
    ids_file = io.open(ids_dir .. "/ids-" .. thread_no .. ".txt", "w")
    ids_file:setvbuf("line")
  end
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, (body:gsub("__N__", tostring(thread_no) .. "-" .. counter)))
end

if ids_dir then
  function response(status, headers, body)
    if status == 201 then
      local id = body:match('^{"id":"([^"]+)"')
      if id then ids_file:write(id, "\\n") end
    end
  end
end

function done(summary, latency, requests)
  io.write(string.format('WRK_RESULT {"requests": %%d, "duration_us": %%d, "status_errors": %%d, ' ..
    '"connect_errors": %%d, "read_errors": %%d, "write_errors": %%d, "timeouts": %%d, ' ..
    '"p50_ms": %%.1f, "p90_ms": %%.1f, "p99_ms": %%.1f}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000))
end
"""


def require_wrk() -> None:
    """Exit with the install command when wrk is missing: without it there is no saturation figure."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk (the benchmarks' HTTP load generator)")


def lua_script(key: str | None, ids_dir: str | None = None) -> str:
    """Return the wrk script posting BODY with titles numbered afresh for this run (and the bearer key, if any).

    Each run's titles carry a tag of their own, so a second run does not repeat the first's titles (triage
    groups repeated titles as one storm of duplicates, which is other work).
    """
    body = json.dumps({**BODY, "title": f"{BODY['title']} #{new_id()[-6:]}-__N__"})
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    return LUA % {"body": body, "auth": auth, "ids_dir": json.dumps(ids_dir) if ids_dir else "nil"}


def wrk(url: str, key: str | None, seconds: float, connections: int, threads: int,
        ids: list[str] | None = None) -> dict[str, Any]:
    """Run wrk against url/v1/tickets; return its summary with accepted requests per second.

    With `ids`, the id of every created ticket is appended to it (read from the 201 responses).
    """
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        script = Path(tmp, "post.lua")
        script.write_text(lua_script(key, tmp if ids is not None else None))
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                              "--timeout", "60s", "-s", str(script), url + "/v1/tickets"],
                             capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
        if ids is not None:
            for written in sorted(Path(tmp).glob("ids-*.txt")):
                ids.extend(line for line in written.read_text().splitlines() if line)
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT "))
    result = json.loads(line.removeprefix("WRK_RESULT "))
    seconds_run = result["duration_us"] / 1e6
    failed = result["status_errors"] + result["timeouts"] + result["read_errors"] + result["write_errors"]
    result["accepted"] = result["requests"] - failed
    result["accepted_per_second"] = round(result["accepted"] / seconds_run, 1)
    return result


def bare_fastapi(seconds: float, connections: int, threads: int) -> dict[str, Any]:
    """wrk against the bare endpoint under uvicorn (one process, as every service runs)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
                                    "--log-level", "warning", "--no-access-log"], cwd=tmp,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(url + "/docs", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            wrk(url, None, 3, connections, threads)  # warm-up
            return wrk(url, None, seconds, connections, threads)
        finally:
            process.terminate()
            process.wait(timeout=10)
