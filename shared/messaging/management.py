"""A small client of the RabbitMQ management HTTP API, with admin credentials taken from settings."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.urls import first_amqp_url

MANAGEMENT_PORT = 15672


class ManagementError(RuntimeError):
    """The management API refused or failed a call; the message says which call and why."""


class BrokerAdminSettings(BaseSettings):
    """Where the management API is and who administers it (env: RABBITMQ_MANAGEMENT_URL, RABBITMQ_ADMIN_*)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    rabbitmq_management_url: str | None = None
    rabbitmq_admin_user: str | None = None
    rabbitmq_admin_password: SecretStr | None = None
    vendor_broker_url: str | None = None
    """The AMQP URL vendors reach the broker at (host, port, TLS), when it differs from AMQP_URL's."""


def _is_loopback(host: str | None) -> bool:
    """Return True for localhost and loopback addresses."""
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _path(*parts: str) -> str:
    """Return an API path with every part percent-encoded (vhost '/' becomes %2F)."""
    return "/api/" + "/".join(quote(part, safe="") for part in parts)


class ManagementApi:
    """Calls the management API as an administrator; every failure raises ManagementError."""

    def __init__(self, base_url: str, user: str, password: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, auth=(user, password), timeout=timeout)

    @classmethod
    def from_settings(cls, settings: BrokerAdminSettings) -> ManagementApi:
        """Return a client from settings; guest is assumed only for a broker on loopback (RabbitMQ's default)."""
        amqp = urlsplit(first_amqp_url(settings.amqp_url))  # a cluster's first node
        url = settings.rabbitmq_management_url or f"http://{amqp.hostname or '127.0.0.1'}:{MANAGEMENT_PORT}"
        parts = urlsplit(url)
        user = settings.rabbitmq_admin_user or (unquote(parts.username) if parts.username else None)
        password = (settings.rabbitmq_admin_password.get_secret_value() if settings.rabbitmq_admin_password
                    else unquote(parts.password) if parts.password else None)
        if user is None or password is None:
            if not _is_loopback(parts.hostname):
                raise ManagementError(f"no administrator for the management API at {parts.hostname}: set "
                                      "RABBITMQ_ADMIN_USER and RABBITMQ_ADMIN_PASSWORD")
            user, password = user or "guest", password or "guest"
        base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))
        return cls(base, user, password)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> ManagementApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, *parts: str, body: Any = None, missing_ok: bool = False,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
        """Return the decoded answer of one call (None when empty, or when missing and missing_ok)."""
        path = _path(*parts)
        try:
            response = await self._client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ManagementError(f"{method} {self.base_url}{path}: {exc}") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise ManagementError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    async def user_exists(self, user: str) -> bool:
        """Return True if the broker has this user."""
        return await self.call("GET", "users", user, missing_ok=True) is not None

    async def put_user(self, user: str, password: str) -> None:
        """Create the user (or set its password) with no management tags."""
        await self.call("PUT", "users", user, body={"password": password, "tags": ""})

    async def set_user_limit(self, user: str, limit: str, value: int) -> None:
        """Set a per-user limit, e.g. max-connections or max-channels."""
        await self.call("PUT", "user-limits", user, limit, body={"value": value})

    async def delete_user(self, user: str) -> bool:
        """Delete the user and its permissions; return False if there was none."""
        if not await self.user_exists(user):
            return False
        await self.call("DELETE", "users", user, missing_ok=True)
        return True

    async def ensure_vhost(self, vhost: str) -> None:
        """Create the vhost if it is missing."""
        await self.call("PUT", "vhosts", vhost, body={})

    async def set_permissions(self, vhost: str, user: str, *, configure: str, write: str, read: str) -> None:
        """Set the user's resource permissions (regexes on exchange and queue names) on the vhost."""
        await self.call("PUT", "permissions", vhost, user, body={"configure": configure, "write": write, "read": read})

    async def set_topic_permissions(self, vhost: str, user: str, *, exchange: str, write: str, read: str) -> None:
        """Set the routing keys the user may publish with (write) and bind with (read) on a topic exchange."""
        await self.call("PUT", "topic-permissions", vhost, user,
                        body={"exchange": exchange, "write": write, "read": read})

    async def users_with_permissions(self, vhost: str) -> list[str]:
        """Return the users that hold permissions on the vhost."""
        return [entry["user"] for entry in await self.call("GET", "vhosts", vhost, "permissions") or []]

    async def declare_topic_exchange(self, vhost: str, name: str) -> None:
        """Declare a durable topic exchange (as the services do; a no-op if it exists)."""
        await self.call("PUT", "exchanges", vhost, name, body={"type": "topic", "durable": True, "auto_delete": False})

    async def declare_quorum_queue(self, vhost: str, name: str) -> None:
        """Declare a durable quorum queue (a no-op if it exists with the same arguments)."""
        await self.call("PUT", "queues", vhost, name,
                        body={"durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}})

    async def bind_queue(self, vhost: str, exchange: str, queue: str, routing_key: str) -> None:
        """Bind a queue to an exchange with a routing key (a no-op if bound)."""
        await self.call("POST", "bindings", vhost, "e", exchange, "q", queue, body={"routing_key": routing_key})

    async def queues(self, vhost: str) -> list[dict[str, Any]]:
        """Return the vhost's queues with their names and message counts."""
        return await self.call("GET", "queues", vhost, params={"columns": "name,messages"}) or []

    async def delete_queue(self, vhost: str, name: str) -> None:
        """Delete a queue and its messages (no-op if missing)."""
        await self.call("DELETE", "queues", vhost, name, missing_ok=True)

    async def connections_of(self, user: str, vhost: str) -> list[str]:
        """Return the names of the user's open connections to the vhost (from connection tracking, no delay)."""
        found = await self.call("GET", "connections", "username", user, missing_ok=True) or []
        return [connection["name"] for connection in found if connection.get("vhost") == vhost]

    async def close_connections(self, user: str, reason: str) -> int:
        """Close every connection of the user (vendor users live on one vhost); return how many were open."""
        found = await self.call("GET", "connections", "username", user, missing_ok=True) or []
        if found:
            await self.call("DELETE", "connections", "username", user, missing_ok=True, headers={"X-Reason": reason})
        return len(found)
