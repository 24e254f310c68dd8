"""e2e fixtures: the four services as processes, and an SMTP sink collecting their mail.

A test module that needs other settings overrides the module-scoped `system_env` fixture; every
module gets its own database (and, from tests/conftest.py, its own vhost).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from bench.system import Mailbox, System, free_port
from shared.ids import new_id
from shared.mailsink import start_sink


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory) -> Iterator[tuple[Mailbox, int]]:
    """Return the mailbox of an SMTP sink on a free port, and that port."""
    directory = tmp_path_factory.mktemp("mail")
    port = free_port()
    controller = start_sink(directory, port=port)
    yield Mailbox(directory), port
    controller.stop()


@pytest.fixture(scope="module")
def system_env() -> dict[str, str]:
    """Return extra environment for the services of this module (override in a module to change settings)."""
    return {}


@pytest.fixture(scope="module")
def system(amqp_url, mongodb_url, mailbox, system_env, tmp_path_factory) -> Iterator[System]:
    """The four services running against the real broker and database."""
    _, smtp_port = mailbox
    db_name = f"incidents_e2e_{new_id().lower()[-12:]}"
    system = System(amqp_url, mongodb_url, db_name, smtp_port, tmp_path_factory.mktemp("logs"),
                    extra_env=dict(system_env))
    try:
        system.start_all()
        yield system
    finally:
        system.stop_all()
        with MongoClient(mongodb_url) as client:
            client.drop_database(db_name)
