"""Broker accounts: each vendor's own user, queue and permissions, and the internal services' user."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from shared.contracts.escalation_events import VENDOR_ID_PATTERN, vendor_routing_key
from shared.messaging.identity import (
    is_vendor_id,
    vendor_grants,
    vendor_of_user,
    vendor_queue,
    vendor_user,
)
from shared.messaging.management import ManagementApi
from shared.messaging.topology import VENDOR_EXCHANGE
from shared.messaging.urls import split_amqp_urls

VENDOR_MAX_CONNECTIONS = 10
"""Per vendor user: enough for a few replicas of a vendor's consumer, too few to exhaust the broker."""
VENDOR_MAX_CHANNELS = 100


class VendorExists(ValueError):
    """The vendor already has a user; rotate its password or remove it first."""


def new_password() -> str:
    """Return a random password that needs no escaping in a URL (256 bits)."""
    return secrets.token_urlsafe(32)


def amqp_url_for(base_url: str, user: str, password: str, vhost: str) -> str:
    """Return base_url's scheme, host and port with this user, password and vhost (each node's, for a cluster)."""
    return ",".join(_node_url_for(url, user, password, vhost) for url in split_amqp_urls(base_url))


def _node_url_for(base_url: str, user: str, password: str, vhost: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme or "amqp", netloc, "/" + quote(vhost, safe=""), parts.query, ""))


@dataclass(frozen=True)
class VendorCredentials:
    """What a vendor needs to connect; the password exists only here (the broker keeps a hash)."""

    vendor_id: str
    user: str
    password: str
    vhost: str
    amqp_url: str
    queue: str
    handoff_routing_key: str
    reply_routing_key: str


@dataclass(frozen=True)
class VendorAccount:
    """A provisioned vendor as the broker sees it."""

    vendor_id: str
    user: str
    queue: str
    messages: int | None
    connections: int


def _check_id(vendor_id: str) -> None:
    if not is_vendor_id(vendor_id):
        raise ValueError(f"vendor id {vendor_id!r} must match {VENDOR_ID_PATTERN} (as in the escalation policy)")


async def add_vendor(api: ManagementApi, vhost: str, vendor_id: str, broker_url: str, *, rotate: bool = False,
                     max_connections: int = VENDOR_MAX_CONNECTIONS) -> VendorCredentials:
    """Create the vendor's user, hand-off queue, binding, permissions and limits; return its new credentials.

    With rotate, an existing vendor gets a new password and its open connections are closed.
    """
    _check_id(vendor_id)
    user, queue, grants = vendor_user(vendor_id, vhost), vendor_queue(vendor_id), vendor_grants(vendor_id)
    if await api.user_exists(user) and not rotate:
        raise VendorExists(f"vendor {vendor_id} already has the user {user}; use --rotate for a new password "
                           "or remove it first")
    password = new_password()
    await api.declare_topic_exchange(vhost, VENDOR_EXCHANGE)
    await api.declare_quorum_queue(vhost, queue)
    await api.bind_queue(vhost, VENDOR_EXCHANGE, queue, vendor_routing_key(vendor_id, "handoff"))
    await api.put_user(user, password)
    await api.set_user_limit(user, "max-connections", max_connections)
    await api.set_user_limit(user, "max-channels", VENDOR_MAX_CHANNELS)
    await api.set_permissions(vhost, user, configure=grants.configure, write=grants.write, read=grants.read)
    await api.set_topic_permissions(vhost, user, exchange=grants.topic_exchange, write=grants.topic_write,
                                    read=grants.topic_read)
    if rotate:
        await api.close_connections(user, "vendor credentials rotated")
    return VendorCredentials(vendor_id, user, password, vhost, amqp_url_for(broker_url, user, password, vhost),
                             queue, vendor_routing_key(vendor_id, "handoff"), vendor_routing_key(vendor_id, "reply"))


async def list_vendors(api: ManagementApi, vhost: str) -> list[VendorAccount]:
    """Return the vendors provisioned on the vhost, with their queue depth and open connections."""
    depth = {queue["name"]: queue.get("messages") for queue in await api.queues(vhost)}
    accounts = []
    for user in sorted(await api.users_with_permissions(vhost)):
        vendor_id = vendor_of_user(user, vhost)
        if vendor_id is None:
            continue
        queue = vendor_queue(vendor_id)
        accounts.append(VendorAccount(vendor_id, user, queue, depth.get(queue),
                                      len(await api.connections_of(user, vhost))))
    return accounts


async def remove_vendor(api: ManagementApi, vhost: str, vendor_id: str) -> bool:
    """Delete the vendor's user, close its connections and delete its `vendor.<id>.*` queues; False if unknown."""
    _check_id(vendor_id)
    user = vendor_user(vendor_id, vhost)
    await api.close_connections(user, "vendor removed")
    existed = await api.delete_user(user)  # RabbitMQ also closes a deleted user's connections
    prefix = f"vendor.{vendor_id}."
    for queue in await api.queues(vhost):
        if queue["name"].startswith(prefix):
            await api.delete_queue(vhost, queue["name"])
    return existed


async def provision_services_user(api: ManagementApi, vhost: str, user: str, password: str) -> None:
    """Create or update the internal services' user with full rights on the vhost (and no management tags)."""
    if vendor_of_user(user, vhost) is not None or user == "guest":
        raise ValueError(f"{user!r} cannot be the services' user: it is guest or a vendor's name")
    await api.ensure_vhost(vhost)
    await api.put_user(user, password)
    await api.set_permissions(vhost, user, configure=".*", write=".*", read=".*")
