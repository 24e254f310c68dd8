"""`incidents oncall ...`: who is on call, shifts, gaps, and checking or loading an on-call YAML file.

The commands read the configuration the services use (the database named by MONGODB_URL/MONGODB_DB plus
ONCALL_FILE), like `incidents keys` they are for operators with database access. `load` changes the
stored configuration exactly as the API does: checked whole, written in one compare-and-set, nothing
half-saved; items ONCALL_FILE defines are refused (the file wins).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the `oncall` command and its subcommands."""
    oncall = commands.add_parser("oncall", help="on-call: who is on call, shifts, gaps, check or load a YAML file")
    sub = oncall.add_subparsers(dest="oncall_command", required=True)
    now = sub.add_parser("now", help="who a team has on call now (or at --at)")
    now.add_argument("team")
    now.add_argument("--at", type=_instant, help="an ISO 8601 instant with its offset, e.g. 2026-03-29T09:00+02:00")
    shifts = sub.add_parser("shifts", help="the shifts of a schedule or a person")
    whose = shifts.add_mutually_exclusive_group(required=True)
    whose.add_argument("--schedule")
    whose.add_argument("--person")
    shifts.add_argument("--from", dest="start", type=_instant, help="range start (default now)")
    shifts.add_argument("--to", dest="end", type=_instant, help="range end (default 14 days after the start)")
    shifts.add_argument("--ics", action="store_true", help="print an iCalendar (RFC 5545) feed instead of JSON")
    gaps = sub.add_parser("gaps", help="coverage gaps in the next days, per team and schedule")
    gaps.add_argument("--days", type=int, default=14)
    gaps.add_argument("--team")
    check = sub.add_parser("check", help="check an on-call YAML file (every reference must resolve in it)")
    check.add_argument("file", type=Path)
    check.add_argument("--with-stored", action="store_true",
                       help="check it together with what the database stores (references may point there)")
    load = sub.add_parser("load", help="store an on-call YAML file's items in the database (all or nothing)")
    load.add_argument("file", type=Path)
    load.add_argument("--replace", action="store_true", help="replace everything stored, not only the file's items")
    sub.add_parser("export", help="print what the database stores (the API's items) as YAML")


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add one, e.g. Z or +02:00")
    return value


async def _catalog(client):
    """Return the catalog the services use (stored configuration plus ONCALL_FILE) and the settings."""
    from services.escalation.adapters.oncall_file import load_oncall_file
    from services.escalation.adapters.oncall_store import MongoOnCallStore
    from services.escalation.service_layer.oncall_catalog import OnCallCatalog
    from services.escalation.settings import EscalationSettings
    from shared.settings import load_settings

    settings = load_settings(EscalationSettings)
    file = load_oncall_file(settings.oncall_file) if settings.oncall_file else None
    return OnCallCatalog(MongoOnCallStore(client[settings.mongodb_db]), file, cache_seconds=0)


async def _with_catalog(work):
    from shared.persistence import make_client
    from shared.settings import CommonSettings, load_settings

    client = make_client(load_settings(CommonSettings).mongodb_url)
    try:
        return await work(await _catalog(client))
    finally:
        await client.close()


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run one `incidents oncall` subcommand; return the exit code."""
    from services.escalation.adapters.oncall_file import load_oncall_file
    from services.escalation.service_layer import oncall_config as changes
    from services.escalation.service_layer import oncall_queries as queries
    from services.escalation.service_layer.oncall_catalog import OnCallProblem
    from shared.clock import SystemClock
    from shared.config_files import ConfigFileError

    now = SystemClock().now()
    try:
        if args.oncall_command == "check":
            file = load_oncall_file(args.file)
            if args.with_stored:
                asyncio.run(_with_catalog(lambda catalog: _check_with_stored(catalog, file)))
            else:
                _check(file)
            print(f"{args.file}: OK ({_check_counts(file)})")
        elif args.oncall_command == "load":
            file = load_oncall_file(args.file)
            snapshot = asyncio.run(_with_catalog(lambda catalog: _load(catalog, file, args.replace, now)))
            print(f"{args.file}: stored as revision {snapshot.rev} ({_check_counts(file)})")
        elif args.oncall_command == "export":
            stored = asyncio.run(_with_catalog(lambda catalog: catalog.snapshot(fresh=True))).stored
            print(yaml.safe_dump(stored.model_dump(mode="json", exclude_defaults=False), sort_keys=False), end="")
        else:
            return _ask(args, now, queries)
    except (ConfigFileError, OnCallProblem, changes.FileOwned, changes.KeptChanging) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (queries.Unknown, queries.RangeRefused, LookupError, PermissionError) as exc:
        print(f"incidents oncall: {exc}", file=sys.stderr)
        return 1
    return 0


def _ask(args: argparse.Namespace, now: datetime, queries) -> int:
    from services.escalation.domain.oncall.ical import person_calendar, schedule_calendar

    async def answer(catalog):
        config = (await catalog.snapshot(fresh=True)).config
        if args.oncall_command == "now":
            return queries.on_call_now(config, args.team, args.at or now)
        if args.oncall_command == "gaps":
            return queries.coverage(config, now, now + timedelta(days=args.days), args.team)
        start = args.start or now
        end = args.end or start + timedelta(days=14)
        if args.ics:
            queries.check_range(start, end)
            if args.schedule:
                if args.schedule not in config.schedules:
                    raise queries.Unknown(f"no schedule {args.schedule!r}")
                return schedule_calendar(config.effective(args.schedule), start, end, dtstamp=now,
                                         people=config.people, lookback=timedelta(0))
            return person_calendar(config.effective_schedules().values(), args.person, start, end, dtstamp=now,
                                   people=config.people, lookback=timedelta(0))
        if args.schedule:
            return queries.schedule_shifts(config, args.schedule, start, end)
        return queries.person_shifts(config, args.person, start, end)

    result = asyncio.run(_with_catalog(answer))
    if isinstance(result, bytes):
        sys.stdout.write(result.decode())
    else:
        _print(result)
    return 0


def _check_counts(file) -> str:
    document = file.document
    return (f"{len(document.people)} people, {len(document.schedules)} schedules, {len(document.policies)} policies, "
            f"{len(document.overrides)} overrides")


def _check(file) -> None:
    """Raise OnCallProblem naming file:line unless the file works on its own."""
    from services.escalation.adapters.oncall_models import OnCallDocument
    from services.escalation.service_layer.oncall_catalog import build

    build(file, OnCallDocument())


async def _check_with_stored(catalog, file) -> None:
    """Raise OnCallProblem naming file:line unless the file works over what the database stores."""
    from services.escalation.service_layer.oncall_catalog import build

    build(file, (await catalog.snapshot(fresh=True)).stored)


async def _load(catalog, file, replace: bool, now: datetime):
    """Store the file's items (merged over the stored ones, or replacing them); problems name file:line."""
    from services.escalation.service_layer import oncall_config as changes
    from services.escalation.service_layer.oncall_catalog import OnCallProblem

    def merge(stored):
        for kind in changes.KINDS:
            for item in getattr(file.document, kind):
                stored = changes.put_item(kind, item)(stored)
        return stored

    try:
        if replace:
            return await changes.replace_all(catalog, file.document, by="cli", now=now)
        for kind in changes.KINDS:
            for item in getattr(file.document, kind):
                changes.guard_file(catalog, kind, changes.item_key(kind, item))
        return await changes.apply(catalog, merge, by="cli", now=now)
    except OnCallProblem as exc:
        raise OnCallProblem(exc.field, exc.problem, exc.where or file.where(exc.field)) from None
