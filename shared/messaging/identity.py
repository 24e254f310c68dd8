"""Who may do what on the broker: RabbitMQ user names and permission patterns of vendors (pure).

A vendor is a RabbitMQ user of its own. The broker refuses a publish whose `user_id` property differs
from the connection's user, so a message whose `user_id` is the vendor's user was sent by that vendor;
consumers of vendor messages require it (see `sender_problem`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from shared.contracts.escalation_events import VENDOR_ID_PATTERN, vendor_routing_key
from shared.messaging.topology import VENDOR_EXCHANGE
from shared.messaging.urls import first_amqp_url

DEFAULT_VHOST = "/"
SERVICES_USER = "incidents"
"""The internal services' RabbitMQ user that `make up` and docker compose provision."""

_REPLY_KEY = re.compile(r"^vendor\.([^.]+)\.reply$")


def vhost_of(amqp_url: str) -> str:
    """Return the vhost an AMQP URL names ('/' when the path is empty); of a cluster's URLs, the first's (all share it)."""
    return unquote(urlsplit(first_amqp_url(amqp_url)).path[1:]) or DEFAULT_VHOST


def user_of(amqp_url: str) -> str:
    """Return the user name an AMQP URL logs in with (guest when it names none, as the client does); the first's."""
    return unquote(urlsplit(first_amqp_url(amqp_url)).username or "guest")


def is_vendor_id(vendor_id: str) -> bool:
    """Return True if the id is a valid vendor id (also safe inside a permission regex)."""
    return re.fullmatch(VENDOR_ID_PATTERN, vendor_id) is not None


def vendor_user(vendor_id: str, vhost: str) -> str:
    """Return the RabbitMQ user of a vendor: `vendor.<id>` on '/', `vendor.<id>@<vhost>` elsewhere.

    Users are broker-wide while vendors belong to a vhost, so another vhost's vendor is another user.
    """
    name = f"vendor.{vendor_id}"
    return name if vhost == DEFAULT_VHOST else f"{name}@{vhost}"


def vendor_of_user(user: str, vhost: str) -> str | None:
    """Return the vendor id whose user on this vhost is `user`, or None if it is no vendor's."""
    suffix = "" if vhost == DEFAULT_VHOST else f"@{vhost}"
    if not user.startswith("vendor.") or not user.endswith(suffix):
        return None
    candidate = user[len("vendor."):len(user) - len(suffix)]
    return candidate if is_vendor_id(candidate) else None


def vendor_queue(vendor_id: str) -> str:
    """Return the queue provisioned for a vendor's hand-offs."""
    return f"vendor.{vendor_id}.handoffs"


def vendor_of_reply_key(routing_key: str) -> str | None:
    """Return the vendor a `vendor.<id>.reply` routing key names, or None for any other key."""
    match = _REPLY_KEY.match(routing_key or "")
    return match.group(1) if match and is_vendor_id(match.group(1)) else None


def sender_problem(user_id: str | None, vendor_id: str, vhost: str) -> str | None:
    """Return why a message claiming to come from the vendor is not proven to, or None when it is."""
    expected = vendor_user(vendor_id, vhost)
    if not user_id:
        return (f"message for vendor {vendor_id} has no user_id: only the broker-checked user_id "
                f"{expected!r} proves the vendor sent it")
    if user_id != expected:
        return f"message for vendor {vendor_id} was published by RabbitMQ user {user_id!r}, not {expected!r}"
    return None


@dataclass(frozen=True)
class VendorGrants:
    """The permissions of one vendor's user: regexes on resource names and on routing keys."""

    configure: str
    write: str
    read: str
    topic_exchange: str
    topic_write: str
    topic_read: str


def vendor_grants(vendor_id: str) -> VendorGrants:
    """Return the vendor's grants: its own `vendor.<id>.*` queues, replies on its key, hand-offs on its key.

    It may declare, bind and read only queues named `vendor.<id>.*`, publish only to `incidents.vendor`
    and only with routing key `vendor.<id>.reply`, and bind only to `vendor.<id>.handoff`; nothing on
    `incidents.events`, the default exchange or another vendor's queues.
    """
    if not is_vendor_id(vendor_id):
        raise ValueError(f"vendor id {vendor_id!r} does not match {VENDOR_ID_PATTERN}")
    own = rf"vendor\.{vendor_id}\..+"  # ids hold no dots or regex metacharacters, so no escaping is needed
    exchange = re.escape(VENDOR_EXCHANGE)
    return VendorGrants(
        configure=rf"^{own}$",
        write=rf"^({exchange}|{own})$",
        read=rf"^({exchange}|{own})$",
        topic_exchange=VENDOR_EXCHANGE,
        topic_write=rf"^{re.escape(vendor_routing_key(vendor_id, 'reply'))}$",
        topic_read=rf"^{re.escape(vendor_routing_key(vendor_id, 'handoff'))}$",
    )
