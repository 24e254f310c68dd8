"""AMQP_URL as one URL or several comma-separated ones: the nodes of one RabbitMQ cluster (pure).

Every URL must reach the same vhost as the same user, so whichever node a client lands on it sees the
same queues with the same rights. A comma inside one URL (in a password, say) is written `%2C`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

SCHEMES = ("amqp", "amqps")


class AmqpUrlError(ValueError):
    """AMQP_URL cannot be used; the message says which entry and why, never a password."""


def first_amqp_url(amqp_url: str) -> str:
    """Return the first URL of a comma-separated AMQP_URL (the whole value when it holds one)."""
    return amqp_url.split(",", 1)[0].strip()


def _vhost_and_user(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return unquote(parts.path[1:]) or "/", unquote(parts.username or "guest")


def split_amqp_urls(amqp_url: str) -> list[str]:
    """Return the URLs of AMQP_URL in the order clients try them; raise AmqpUrlError if one is unusable."""
    urls = [url.strip() for url in amqp_url.split(",")]
    several = len(urls) > 1
    for number, url in enumerate(urls, 1):
        where = f"entry {number} of AMQP_URL" if several else "AMQP_URL"
        if not url:
            raise AmqpUrlError(f"{where} is empty (separate the nodes' URLs with single commas)")
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise AmqpUrlError(f"{where} must start with amqp:// or amqps://")
        if not parts.hostname:
            raise AmqpUrlError(f"{where} names no host")
        try:
            _ = parts.port  # raises on a port that is not a number in range
        except ValueError:
            raise AmqpUrlError(f"{where} has a port that is not a number from 1 to 65535") from None
        if _vhost_and_user(url) != _vhost_and_user(urls[0]):
            raise AmqpUrlError(f"{where} names another vhost or user than entry 1: every node's URL must "
                               "reach the same vhost as the same user")
    return urls


def node_address(url: str) -> str:
    """Return the host:port a URL connects to (5672 or 5671 when it names no port), without credentials."""
    parts = urlsplit(url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    return f"{parts.hostname}:{port}"
