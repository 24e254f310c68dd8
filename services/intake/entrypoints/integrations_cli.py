"""`incidents integrations create|list|revoke`: the inbound sources of alerts and chat (run from services/cli.py)."""

from __future__ import annotations

import argparse
import asyncio


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `incidents integrations create|list|revoke` (inbound Alertmanager, Events API v2 and Slack sources)."""
    integrations = commands.add_parser("integrations", help="manage inbound integrations (alerts and chat in)")
    sub = integrations.add_subparsers(dest="integrations_command", required=True)
    create = sub.add_parser("create", help="add a source; prints its URL and key (the key is shown only once)")
    create.add_argument("--kind", required=True, choices=["alertmanager", "events-v2", "slack"])
    create.add_argument("--team", required=True, help="the owning team (a team of the service levels file)")
    create.add_argument("--name", required=True, help="e.g. checkout-prometheus")
    create.add_argument("--severity-map", help="source severity word → KB-005, e.g. 'page=critical,warning=high' "
                        "(defaults: critical→critical, error→high, warning→medium, info→low)")
    create.add_argument("--type", default="infrastructure",
                        choices=["performance", "access", "data", "security", "feature", "infrastructure"],
                        help="incident type of the tickets it opens")
    create.add_argument("--component", help="component when the alert names none")
    create.add_argument("--rate-per-minute", type=int, default=1200)
    create.add_argument("--burst", type=int, default=300)
    create.add_argument("--reopen-minutes", type=int, default=60,
                        help="Alertmanager: a group firing again this soon after it resolved reopens its ticket")
    create.add_argument("--no-resolve-by-source", action="store_true",
                        help="when the source resolves everything, only note it (support resolves the ticket)")
    create.add_argument("--signing-secret-env", help="Slack: environment variable (SLACK_*) holding the signing secret")
    create.add_argument("--bot-token-env", help="Slack: environment variable (SLACK_*) holding the bot token, "
                        "to answer mentions")
    create.add_argument("--critical-channel", help="Slack: the id (C…) of #critical-incidents")
    sub.add_parser("list", help="list integrations (never their keys)")
    revoke = sub.add_parser("revoke", help="revoke an integration and its key")
    revoke.add_argument("integration", help="its id or name")


async def with_integrations(work):
    """Run work(MongoIntegrations) against the configured database and return its result."""
    from services.cli import with_store
    from services.intake.adapters.integrations import INDEXES, MongoIntegrations

    return await with_store(MongoIntegrations, INDEXES, work)


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run `incidents integrations create|list|revoke`; return the exit code."""
    from services.intake.domain.integrations import (
        Integration,
        InvalidIntegration,
        Kind,
        parse_severity_map,
        validate,
    )
    from services.intake.settings import IntakeSettings
    from shared.clock import SystemClock
    from shared.contracts import IncidentType
    from shared.ids import new_id
    from shared.settings import load_settings
    from shared.sla.config import load_service_levels

    settings = load_settings(IntakeSettings)
    base = settings.portal_url.rstrip("/")
    if args.integrations_command == "list":
        found = asyncio.run(with_integrations(lambda store: store.list()))
        for doc in found:
            state = "revoked" if doc.get("revoked") else "active"
            print(f"{doc['_id']}  {state:7}  {doc['kind']:12}  {doc['team']:20}  {doc['name']}")
        return 0
    if args.integrations_command == "revoke":
        now = SystemClock().now()
        revoked = asyncio.run(with_integrations(lambda store: store.revoke(args.integration, now)))
        if revoked is None:
            parser.exit(1, f"incidents integrations revoke: no integration {args.integration}\n")
        print(f"integration {revoked['_id']} ({revoked['name']}) revoked")
        return 0
    try:
        integration = validate(Integration(
            id=new_id(), kind=Kind(args.kind), name=args.name, team=args.team,
            severity_map=parse_severity_map(args.severity_map), default_type=IncidentType(args.type),
            component=args.component, rate_per_minute=args.rate_per_minute, burst=args.burst,
            resolve_by_source=not args.no_resolve_by_source, reopen_minutes=args.reopen_minutes,
            signing_secret_env=args.signing_secret_env, bot_token_env=args.bot_token_env,
            critical_channel=args.critical_channel, created_at=SystemClock().now(),
        ), set(load_service_levels(settings.service_levels_file).teams.values()))
        key = asyncio.run(with_integrations(lambda store: store.create(integration)))
    except (InvalidIntegration, ValueError) as exc:
        parser.exit(2, f"incidents integrations create: {exc}\n")
    print(f"id:   {integration.id}")
    if integration.kind is Kind.ALERTMANAGER:
        print(f"url:  {base}/integrations/alertmanager")
        print(f"key:  {key}")
        print("      (Alertmanager: webhook_configs url, with http_config.authorization credentials = the key)")
    elif integration.kind is Kind.EVENTS_V2:
        print(f"url:  {base}/v2/enqueue")
        print(f"key:  {key}")
        print("      (the routing_key / integration key of any tool that sends to PagerDuty's Events API v2)")
    else:
        print(f"events url:   {base}/integrations/slack/{integration.id}/events")
        print(f"command url:  {base}/integrations/slack/{integration.id}/commands")
        print(f"      (requests are verified with the signing secret in ${integration.signing_secret_env})")
    return 0
