"""The `incidents` command: run a service, mint API keys, run the local mail sink."""

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

    bootstrap_module, settings_module, settings_class = SERVICES[name]
    settings = getattr(importlib.import_module(settings_module), settings_class)()
    configure_logging(name, settings.log_level)
    app = importlib.import_module(bootstrap_module).build_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=port or settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


async def create_key(role: str, name: str, email: str | None) -> str:
    """Store a new API key and return it."""
    from services.intake.adapters.api_keys import INDEXES, MongoApiKeys
    from services.intake.domain.principals import Role
    from shared.clock import SystemClock
    from shared.persistence import ensure_indexes, make_client
    from shared.settings import CommonSettings

    settings = CommonSettings()
    client = make_client(settings.mongodb_url)
    try:
        db = client[settings.mongodb_db]
        await ensure_indexes(db, INDEXES)
        key, _ = await MongoApiKeys(db).create(Role(role), name, email, SystemClock().now())
        return key
    finally:
        await client.close()


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

    commands.add_parser("rebuild-views", help="rebuild intake's read models (lists, search, report) from the tickets")

    seed = commands.add_parser("seed", help="store many copies of the database's triaged tickets (for benchmarks)")
    seed.add_argument("--count", type=int, required=True, help="tickets to store")
    seed.add_argument("--open", type=int, default=0, help="how many of them are still open (created in the last 30 days)")
    seed.add_argument("--reporters", type=int, default=500, help="reporter identities to spread them over")
    seed.add_argument("--days", type=int, default=365, help="how far back the finished ones go")
    seed.add_argument("--seed", type=int, default=1, help="random seed")
    seed.add_argument("--keys-out", type=Path, help="write the reporters' API keys here as JSON (mode 600)")

    sink = commands.add_parser("mailcatcher", help="local SMTP server storing each message under a directory")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))

    args = parser.parse_args(argv)
    if args.command == "run":
        run_service(args.service, args.port)
    elif args.command == "keys":
        print(asyncio.run(create_key(args.role, args.name, checked_email(parser, args.email))))
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
    elif args.command == "mailcatcher":
        from shared.logs import configure_logging

        configure_logging("mailcatcher")
        try:
            asyncio.run(serve_forever_sink(args.dir, args.host, args.port))
        except KeyboardInterrupt:
            pass
    return 0


async def seed_tickets(count: int, open_count: int, reporters: int, days: int, seed: int):
    """Store copies of the database's triaged tickets; return what was stored (services.intake...seeding)."""
    import random

    from services.intake.adapters.api_keys import MongoApiKeys
    from services.intake.adapters.tickets import MongoTickets
    from services.intake.service_layer.seeding import Seeder, SeedPlan
    from shared.clock import SystemClock
    from shared.persistence import make_client
    from shared.settings import CommonSettings

    settings = CommonSettings()
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
    from shared.settings import CommonSettings

    settings = CommonSettings()
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
