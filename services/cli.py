"""The `incidents` command: run a service, mint API keys, run the local mail sink."""

from __future__ import annotations

import argparse
import asyncio
import importlib
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

    sink = commands.add_parser("mailcatcher", help="local SMTP server storing each message under a directory")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))

    args = parser.parse_args(argv)
    if args.command == "run":
        run_service(args.service, args.port)
    elif args.command == "keys":
        if args.email is not None and "@" not in args.email:
            parser.error(f"--email {args.email!r} is not an e-mail address")
        print(asyncio.run(create_key(args.role, args.name, args.email)))
    elif args.command == "rebuild-views":
        print(f"{asyncio.run(rebuild_views())} view documents written")
    elif args.command == "mailcatcher":
        from shared.logs import configure_logging

        configure_logging("mailcatcher")
        try:
            asyncio.run(serve_forever_sink(args.dir, args.host, args.port))
        except KeyboardInterrupt:
            pass
    return 0


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
