"""The `incidents` command: run a service, mint API keys, manage broker accounts, run the local mail sink."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from pathlib import Path

SERVICES = {
    "intake": ("services.intake.bootstrap", "services.intake.settings", "IntakeSettings"),
    "triage": ("services.triage.bootstrap", "services.triage.settings", "TriageSettings"),
    "escalation": ("services.escalation.bootstrap", "services.escalation.settings", "EscalationSettings"),
    "notifier": ("services.notifier.bootstrap", "services.notifier.settings", "NotifierSettings"),
}


def run_service(name: str, port: int | None) -> None:
    """Serve one service with uvicorn until SIGTERM."""
    import uvicorn

    from shared.logs import configure_logging
    from shared.settings import load_settings

    bootstrap_module, settings_module, settings_class = SERVICES[name]
    settings = load_settings(getattr(importlib.import_module(settings_module), settings_class))
    configure_logging(name, settings.log_level)
    app = importlib.import_module(bootstrap_module).build_app(settings)
    config = uvicorn.Config(app, host=settings.http_host, port=port or settings.http_port, log_config=None,
                            access_log=False, timeout_graceful_shutdown=10)
    if settings.reuse_port:  # a replica: share the port with the service's other processes
        uvicorn.Server(config).run(sockets=[shared_port_socket(config.host, config.port)])
    else:
        uvicorn.Server(config).run()


def shared_port_socket(host: str, port: int):
    """Return a TCP socket bound with SO_REUSEPORT: every replica binds its own, the kernel balances connections."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def with_store(make, indexes, work):
    """Run work(make(db)) against the configured database (its indexes ensured first) and return its result."""
    from shared.persistence import ensure_indexes, make_client
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    client = make_client(settings.mongodb_url)
    try:
        db = client[settings.mongodb_db]
        await ensure_indexes(db, indexes)
        return await work(make(db))
    finally:
        await client.close()


async def with_api_keys(work):
    """Run work(MongoApiKeys) against the configured database and return its result."""
    from services.intake.adapters.api_keys import INDEXES, MongoApiKeys

    return await with_store(MongoApiKeys, INDEXES, work)


async def create_key(role: str, name: str, email: str | None, expires_in_days: int | None = None,
                     vendor: str | None = None) -> str:
    """Store a new API key and return it."""
    from datetime import timedelta

    from services.intake.domain.principals import Role
    from shared.clock import SystemClock

    now = SystemClock().now()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None

    async def create(keys):
        key, _ = await keys.create(Role(role), name, email, now, expires_at=expires_at, vendor_id=vendor)
        return key

    return await with_api_keys(create)


def print_keys(keys: list[dict]) -> None:
    """Print keys as an aligned table."""
    columns = ("key_id", "state", "role", "name", "email", "vendor_id", "created_at", "expires_at", "principal_id")
    rows = [[str(k.get(c) or "-") if c not in ("created_at", "expires_at") or not k.get(c)
             else k[c].strftime("%Y-%m-%d %H:%M") for c in columns] for k in keys]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    for row in [list(columns), *rows]:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def checked_email(parser: argparse.ArgumentParser, email: str | None) -> str | None:
    """Return the address as every way in accepts it (shared/contracts/addresses.py), or exit with the reason."""
    from shared.contracts.addresses import parse_email_address

    if email is None:
        return None
    try:
        return parse_email_address(email)
    except ValueError as exc:
        parser.error(f"--email {email!r}: {exc}")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit code."""
    parser = argparse.ArgumentParser(prog="incidents", description="Incident response and escalation platform")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one service in the foreground")
    run.add_argument("service", choices=sorted(SERVICES))
    run.add_argument("--port", type=int, help="HTTP port (default: the service's own)")

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="mint a key and print it alone on stdout")
    create.add_argument("--role", required=True, choices=["reporter", "agent", "admin", "vendor"])
    create.add_argument("--name", required=True)
    create.add_argument("--email")
    create.add_argument("--expires-in-days", type=int, help="the key stops working after this many days")
    create.add_argument("--vendor", help="for --role vendor: the vendor id whose hand-offs the key may see")
    listing = key_commands.add_parser("list", help="list keys and e-mail identities (never the keys themselves)")
    listing.add_argument("--role", choices=["reporter", "agent", "admin", "vendor"])
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id, or every key of a user")
    revoke_target = revoke.add_mutually_exclusive_group(required=True)
    revoke_target.add_argument("key_id", nargs="?", help="the key_id `keys list` shows")
    revoke_target.add_argument("--user", help="a principal id: revoke all of its keys")

    add_integration_commands(commands)

    commands.add_parser("rebuild-views", help="rebuild intake's read models (lists, search, report) from the tickets")

    seed = commands.add_parser("seed", help="store many copies of the database's triaged tickets (for benchmarks)")
    seed.add_argument("--count", type=int, required=True, help="tickets to store")
    seed.add_argument("--open", type=int, default=0, help="how many of them are still open (created in the last 30 days)")
    seed.add_argument("--reporters", type=int, default=500, help="reporter identities to spread them over")
    seed.add_argument("--days", type=int, default=365, help="how far back the finished ones go")
    seed.add_argument("--seed", type=int, default=1, help="random seed")
    seed.add_argument("--keys-out", type=Path, help="write the reporters' API keys here as JSON (mode 600)")

    add_portal_commands(commands)
    add_oncall_commands(commands)

    sink = commands.add_parser("mailcatcher", help="local SMTP server storing each message under a directory")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))

    # broker accounts (vendors, the services' user): services/broker_cli.py
    from services.broker_cli import add_broker_commands, run_broker_command

    add_broker_commands(commands)

    args = parser.parse_args(argv)
    if args.command in ("vendors", "broker"):
        return run_broker_command(args, parser)
    if args.command == "run":
        run_service(args.service, args.port)
    elif args.command == "keys":
        return keys_command(parser, args)
    elif args.command == "integrations":
        return integrations_command(parser, args)
    elif args.command == "rebuild-views":
        print(f"{asyncio.run(rebuild_views())} view documents written")
    elif args.command == "seed":
        if not 0 <= args.open <= args.count or args.count < 1 or args.reporters < 1 or args.days < 2:
            parser.error("need --count >= 1, 0 <= --open <= --count, --reporters >= 1 and --days >= 2")
        try:
            seeded = asyncio.run(seed_tickets(args.count, args.open, args.reporters, args.days, args.seed))
        except LookupError as exc:
            parser.exit(2, f"incidents seed: {exc}\n")
        if args.keys_out:
            args.keys_out.touch(mode=0o600)
            args.keys_out.write_text(json.dumps(seeded.reporter_keys))
        print(f"{seeded.tickets} tickets and {seeded.view_documents} view documents written")
    elif args.command in ("example-host", "sessions"):
        return portal_command(args)
    elif args.command == "oncall":
        return oncall_command(parser, args)
    elif args.command == "mailcatcher":
        from shared.logs import configure_logging

        configure_logging("mailcatcher")
        try:
            asyncio.run(serve_forever_sink(args.dir, args.host, args.port))
        except KeyboardInterrupt:
            pass
    return 0


def keys_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run `incidents keys create|list|revoke`; return the exit code."""
    from services.intake.domain.principals import Role
    from shared.clock import SystemClock

    if args.keys_command == "create":
        email = checked_email(parser, args.email)
        if (args.role == "vendor") != (args.vendor is not None):
            parser.error("--vendor is required with --role vendor, and only with it")
        if args.expires_in_days is not None and args.expires_in_days < 1:
            parser.error("--expires-in-days must be at least 1")
        print(asyncio.run(create_key(args.role, args.name, email, args.expires_in_days, args.vendor)))
    elif args.keys_command == "list":
        print_keys(asyncio.run(with_api_keys(lambda keys: keys.list(Role(args.role) if args.role else None))))
    elif args.user:
        count = asyncio.run(with_api_keys(lambda keys: keys.revoke_principal(args.user, SystemClock().now())))
        ended = asyncio.run(end_sessions(args.user))
        print(f"{count} keys of {args.user} revoked, {ended} portal sessions ended")
    else:
        revoked = asyncio.run(with_api_keys(lambda keys: keys.revoke(args.key_id, SystemClock().now())))
        if revoked is None:
            parser.exit(1, f"incidents keys revoke: no key {args.key_id}\n")
        print(f"key {revoked['key_id']} of {revoked['name']} ({revoked['role']}) revoked")
    return 0


def add_integration_commands(commands: argparse._SubParsersAction) -> None:
    """Add `incidents integrations ...` (services/intake/entrypoints/integrations_cli.py)."""
    from services.intake.entrypoints.integrations_cli import add_commands

    add_commands(commands)


def integrations_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run `incidents integrations ...`; return the exit code."""
    from services.intake.entrypoints.integrations_cli import run

    return run(parser, args)


def add_portal_commands(commands) -> None:
    """The web portal's commands: its example host page, and ending someone's sessions."""
    host = commands.add_parser("example-host", help="serve an example host page with the Help button (as `make up` does)")
    host.add_argument("--host", default="127.0.0.1")
    host.add_argument("--port", type=int, default=8090)
    host.add_argument("--email", default="dana@example.com", help="the host's signed-in demo user")
    host.add_argument("--name", default="Dana Demo")
    sessions = commands.add_parser("sessions", help="portal sessions")
    session_commands = sessions.add_subparsers(dest="sessions_command", required=True)
    end = session_commands.add_parser("end", help="sign a person out of the portal everywhere")
    end.add_argument("--user", required=True, help="a principal id (`keys list` shows them)")


def portal_command(args: argparse.Namespace) -> int:
    """Run `incidents example-host` or `incidents sessions end`; return the exit code."""
    if args.command == "sessions":
        print(f"{asyncio.run(end_sessions(args.user))} portal sessions of {args.user} ended")
        return 0
    import uvicorn

    from services.intake.entrypoints.example_host import build_app
    from services.intake.settings import IntakeSettings
    from shared.logs import configure_logging
    from shared.settings import load_settings

    settings = load_settings(IntakeSettings)
    configure_logging("example-host", settings.log_level)
    app = build_app(settings.portal_url, settings.widget_secret, args.email, args.name)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


async def end_sessions(principal_id: str) -> int:
    """End every portal session of one person; return how many were live."""
    from services.intake.adapters.web_sessions import MongoWebSessions
    from shared.persistence import make_client
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    client = make_client(settings.mongodb_url)
    try:
        return await MongoWebSessions(client[settings.mongodb_db]).end_all(principal_id)
    finally:
        await client.close()


def add_oncall_commands(commands) -> None:
    """Add `incidents oncall ...` (services/escalation/entrypoints/oncall_cli.py)."""
    from services.escalation.entrypoints.oncall_cli import add_commands

    add_commands(commands)


def oncall_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run `incidents oncall ...`; return the exit code."""
    from services.escalation.entrypoints.oncall_cli import run

    return run(parser, args)


async def seed_tickets(count: int, open_count: int, reporters: int, days: int, seed: int):
    """Store copies of the database's triaged tickets; return what was stored (services.intake...seeding)."""
    import random

    from services.intake.adapters.api_keys import MongoApiKeys
    from services.intake.adapters.tickets import MongoTickets
    from services.intake.service_layer.seeding import Seeder, SeedPlan
    from shared.clock import SystemClock
    from shared.persistence import make_client
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    client = make_client(settings.mongodb_url)
    try:
        db = client[settings.mongodb_db]
        seeder = Seeder(MongoTickets(db), MongoApiKeys(db), random.Random(seed))
        return await seeder.seed(SeedPlan(count, open_count, reporters, days), SystemClock().now())
    finally:
        await client.close()


async def rebuild_views() -> int:
    """Rebuild intake's read models from the tickets; return how many view documents were written."""
    from services.intake.adapters.tickets import MongoTickets
    from services.intake.service_layer.rebuild import rebuild_views as rebuild
    from shared.persistence import make_client
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    client = make_client(settings.mongodb_url)
    try:
        return await rebuild(MongoTickets(client[settings.mongodb_db]))
    finally:
        await client.close()


async def serve_forever_sink(directory: Path, host: str, port: int) -> None:
    """Run the mail sink until interrupted."""
    from shared.mailsink import serve_forever

    await serve_forever(directory, host, port)


if __name__ == "__main__":
    sys.exit(main())
