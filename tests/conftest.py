"""Shared fixtures: real servers for integration and e2e tests, isolated per test session."""

from __future__ import annotations

import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from bench.harness import IN_CI
from shared.ids import new_id
from shared.persistence import make_client
from tests.servers import Servers, find_servers


@pytest.fixture(scope="session")
def servers() -> Servers:
    """Return reachable servers; under CI=true their absence fails the run instead of skipping."""
    found, why = find_servers()
    if found is None:
        if IN_CI:
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(why)
    return found


def _management(servers: Servers, method: str, path: str, body: str | None = None) -> None:
    parts = urlsplit(servers.management_url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", "", "", ""))
    request = urllib.request.Request(base + path, method=method, headers={"content-type": "application/json"})
    token = b64encode(f"{parts.username}:{parts.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    urllib.request.urlopen(request, data=body.encode() if body is not None else None, timeout=10).close()


@pytest.fixture(scope="module")
def amqp_url(servers: Servers) -> Iterator[str]:
    """Return an AMQP URL on a vhost of this test module alone.

    Tests never share queues with a running system, and one module's leftover events never reach
    another module's services (they would look up tickets in the wrong database).
    """
    vhost = f"incidents-test-{new_id().lower()}"
    encoded = quote(vhost, safe="")
    user = urlsplit(servers.management_url).username or "guest"
    try:
        _management(servers, "PUT", f"/api/vhosts/{encoded}", "{}")
        _management(
            servers, "PUT", f"/api/permissions/{encoded}/{quote(user, safe='')}",
            '{"configure": ".*", "write": ".*", "read": ".*"}',
        )
    except (urllib.error.URLError, OSError) as exc:
        pytest.fail(f"cannot create a test vhost through the RabbitMQ management API: {exc}", pytrace=False)
    parts = urlsplit(servers.amqp_url)
    yield urlunsplit((parts.scheme, parts.netloc, "/" + encoded, parts.query, ""))
    try:
        _management(servers, "DELETE", f"/api/vhosts/{encoded}")
    except (urllib.error.URLError, OSError):
        pass


@pytest.fixture(scope="session")
def mongodb_url(servers: Servers) -> str:
    """Return the MongoDB URL for tests."""
    return servers.mongodb_url


@pytest.fixture
def db_name() -> str:
    """Return a database name unique to one test."""
    return f"incidents_test_{new_id().lower()[-12:]}"


@pytest.fixture
async def db(mongodb_url: str, db_name: str) -> AsyncIterator:
    """Yield an empty database on the real server, dropped afterwards."""
    client = make_client(mongodb_url)
    yield client[db_name]
    await client.drop_database(db_name)
    await client.close()


def pytest_collection_modifyitems(config, items) -> None:
    """Run the browser tests last: Playwright's sync API owns this thread's event loop while it is open."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
