"""`incidents vendors ...` and `incidents broker provision`: broker accounts through the management API."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from shared.messaging.accounts import (
    VENDOR_MAX_CONNECTIONS,
    VendorExists,
    add_vendor,
    amqp_url_for,
    list_vendors,
    new_password,
    provision_services_user,
    remove_vendor,
)
from shared.messaging.identity import SERVICES_USER, vhost_of
from shared.messaging.management import BrokerAdminSettings, ManagementApi, ManagementError


def add_broker_commands(commands: argparse._SubParsersAction) -> None:
    """Add the `vendors` and `broker` command groups to the `incidents` parser."""
    vendors = commands.add_parser(
        "vendors", help="vendors' broker accounts (admin credentials: RABBITMQ_ADMIN_USER/RABBITMQ_ADMIN_PASSWORD)")
    vendor_commands = vendors.add_subparsers(dest="vendors_command", required=True)
    add = vendor_commands.add_parser("add", help="create a vendor's user, queue and permissions; print its URL once")
    add.add_argument("vendor_id", help="the vendor's id in the escalation policy, e.g. acme")
    add.add_argument("--broker-url", help="the AMQP URL vendors reach the broker at (default: VENDOR_BROKER_URL, "
                                          "else AMQP_URL's host); credentials in it are ignored")
    add.add_argument("--max-connections", type=int, default=VENDOR_MAX_CONNECTIONS,
                     help=f"connections the vendor may hold open at once (default {VENDOR_MAX_CONNECTIONS})")
    add.add_argument("--rotate", action="store_true",
                     help="the vendor exists: give it a new password and close its connections")
    vendor_commands.add_parser("list", help="the vendors provisioned on AMQP_URL's vhost")
    remove = vendor_commands.add_parser("remove", help="delete a vendor's user and queues; closes its connections")
    remove.add_argument("vendor_id")

    broker = commands.add_parser("broker", help="the internal services' broker account")
    broker_commands = broker.add_subparsers(dest="broker_command", required=True)
    provision = broker_commands.add_parser(
        "provision", help="create or update the services' user with rights on AMQP_URL's vhost only")
    provision.add_argument("--user", default=os.environ.get("RABBITMQ_SERVICES_USER", SERVICES_USER))
    provision.add_argument("--password-file", type=Path,
                           help="read the password here; a missing file is created with a new one (mode 600). "
                                "Default: env RABBITMQ_SERVICES_PASSWORD")
    provision.add_argument("--print-url", action="store_true",
                           help="print the services' AMQP URL (with the password) on stdout")


def run_broker_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run a `vendors` or `broker` command; return the exit code (errors are one line on stderr)."""
    settings = BrokerAdminSettings()
    try:
        if args.command == "vendors":
            return asyncio.run(_vendors(args, settings))
        return asyncio.run(_provision(args, settings, parser))
    except (ManagementError, VendorExists, ValueError, OSError) as exc:
        print(f"incidents {args.command}: {exc}", file=sys.stderr)
        return 1


async def _vendors(args: argparse.Namespace, settings: BrokerAdminSettings) -> int:
    """Add, list or remove vendors on AMQP_URL's vhost."""
    vhost = vhost_of(settings.amqp_url)
    async with ManagementApi.from_settings(settings) as api:
        if args.vendors_command == "add":
            broker_url = args.broker_url or settings.vendor_broker_url or settings.amqp_url
            if not 1 <= args.max_connections <= 1000:
                raise ValueError("--max-connections must be between 1 and 1000")
            made = await add_vendor(api, vhost, args.vendor_id, broker_url, rotate=args.rotate,
                                    max_connections=args.max_connections)
            _warn_if_not_in_policy(args.vendor_id)
            print(f"vendor {made.vendor_id}: RabbitMQ user {made.user} on vhost {made.vhost}\n"
                  f"  receive hand-offs from queue {made.queue} (routing key {made.handoff_routing_key})\n"
                  f"  publish replies to exchange incidents.vendor, routing key {made.reply_routing_key},\n"
                  f"  with the message property user_id={made.user} (replies without it are dead-lettered)\n"
                  "  The URL below holds the password and is shown only now; hand it over securely.",
                  file=sys.stderr)
            print(made.amqp_url)
        elif args.vendors_command == "list":
            accounts = await list_vendors(api, vhost)
            print(f"{'vendor':<24} {'user':<40} {'queue':<36} {'waiting':>7} {'connections':>11}")
            for account in accounts:
                waiting = "-" if account.messages is None else str(account.messages)
                print(f"{account.vendor_id:<24} {account.user:<40} {account.queue:<36} {waiting:>7} "
                      f"{account.connections:>11}")
        else:
            if not await remove_vendor(api, vhost, args.vendor_id):
                print(f"incidents vendors: no vendor {args.vendor_id} on vhost {vhost}", file=sys.stderr)
                return 1
            print(f"vendor {args.vendor_id} removed: its user, queues and connections are gone", file=sys.stderr)
    return 0


async def _provision(args: argparse.Namespace, settings: BrokerAdminSettings, parser: argparse.ArgumentParser) -> int:
    """Create or update the services' user; print its URL when asked."""
    password = _services_password(args.password_file)
    if password is None:
        parser.error("give --password-file or set RABBITMQ_SERVICES_PASSWORD")
    vhost = vhost_of(settings.amqp_url)
    async with ManagementApi.from_settings(settings) as api:
        await provision_services_user(api, vhost, args.user, password)
    print(f"broker user {args.user} has full rights on vhost {vhost} (and no management access)", file=sys.stderr)
    if args.print_url:
        print(amqp_url_for(settings.amqp_url, args.user, password, vhost))
    return 0


def _services_password(path: Path | None) -> str | None:
    """Return the services' password from the file (creating it, mode 600, if missing) or the environment."""
    if path is None:
        return os.environ.get("RABBITMQ_SERVICES_PASSWORD") or None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_password() + "\n")
    password = path.read_text().strip()
    if not password:
        raise ValueError(f"{path} is empty")
    return password


def _warn_if_not_in_policy(vendor_id: str) -> None:
    """Warn on stderr when the escalation policy hands nothing to this vendor (its account would sit idle)."""
    try:
        from services.escalation.adapters.policy_file import load_policy
        from services.escalation.settings import EscalationSettings
        from shared.sla.config import load_service_levels

        settings = EscalationSettings()
        policy = load_policy(load_service_levels(settings.service_levels_file), settings.escalation_policy_file)
    except Exception as exc:  # the account is still worth creating; say why the check was skipped
        print(f"note: could not read the escalation policy to check the vendor id: {exc}", file=sys.stderr)
        return
    if vendor_id not in policy.vendors:
        print(f"note: the escalation policy names no vendor {vendor_id!r} (it has {', '.join(sorted(policy.vendors))});"
              " add it there or it will get no hand-offs", file=sys.stderr)
