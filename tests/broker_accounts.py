"""Vendors' broker accounts for tests, made with the real provisioning code on a test vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.messaging.accounts import VendorCredentials, add_vendor, remove_vendor
from shared.messaging.identity import vhost_of
from shared.messaging.management import BrokerAdminSettings, ManagementApi
from tests.servers import Servers


def management_api(servers: Servers, amqp_url: str) -> ManagementApi:
    """Return a management API client as the test servers' administrator."""
    return ManagementApi.from_settings(BrokerAdminSettings(amqp_url=amqp_url,
                                                           rabbitmq_management_url=servers.management_url))


@asynccontextmanager
async def provisioned_vendors(servers: Servers, amqp_url: str, *vendor_ids: str
                              ) -> AsyncIterator[dict[str, VendorCredentials]]:
    """Yield each vendor's credentials on amqp_url's vhost; the users are removed afterwards."""
    vhost = vhost_of(amqp_url)
    async with management_api(servers, amqp_url) as api:
        made: dict[str, VendorCredentials] = {}
        try:
            for vendor_id in vendor_ids:
                made[vendor_id] = await add_vendor(api, vhost, vendor_id, amqp_url)
            yield made
        finally:
            for vendor_id in made:
                await remove_vendor(api, vhost, vendor_id)
