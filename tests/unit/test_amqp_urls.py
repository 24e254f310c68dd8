"""AMQP_URL as one node or a cluster's nodes: parsed in order, one vhost and user for all, no secret in errors."""

from __future__ import annotations

import pytest

from services.notifier.settings import NotifierSettings
from shared.messaging.accounts import amqp_url_for
from shared.messaging.identity import user_of, vhost_of
from shared.messaging.urls import AmqpUrlError, first_amqp_url, node_address, split_amqp_urls
from shared.settings import SettingsError, load_settings

CLUSTER = "amqp://incidents:S3cret-broker-pass@127.0.0.1:5681/ops,amqp://incidents:S3cret-broker-pass@127.0.0.1:5682/ops"


def test_one_url_stays_one_node():
    assert split_amqp_urls("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_a_comma_separated_list_gives_every_node_in_order():
    assert [node_address(url) for url in split_amqp_urls(CLUSTER + ", amqp://incidents:x@other/ops")] == [
        "127.0.0.1:5681", "127.0.0.1:5682", "other:5672"]
    assert node_address("amqps://h/") == "h:5671"
    assert first_amqp_url(CLUSTER) == "amqp://incidents:S3cret-broker-pass@127.0.0.1:5681/ops"
    assert (user_of(CLUSTER), vhost_of(CLUSTER)) == ("incidents", "ops")


@pytest.mark.parametrize(("value", "says"), [
    ("amqp://u:p@a/v,,amqp://u:p@b/v", "entry 2 of AMQP_URL is empty"),
    ("amqp://u:p@a/v,http://u:p@b/v", "entry 2 of AMQP_URL must start with amqp"),
    ("amqp://u:p@a/v,amqp:///v", "entry 2 of AMQP_URL names no host"),
    ("amqp://u:p@a:99999/v", "AMQP_URL has a port"),
    ("amqp://u:p@a/v,amqp://u:p@b/other", "another vhost or user"),
    ("amqp://u:p@a/v,amqp://admin:p@b/v", "another vhost or user"),
])
def test_a_list_a_client_could_not_use_the_same_way_on_every_node_is_refused(value, says):
    with pytest.raises(AmqpUrlError, match=says):
        split_amqp_urls(value)


def test_settings_refuse_a_mixed_list_without_printing_its_password(monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://incidents:S3cret-broker-pass@a/v,amqp://other:S3cret-broker-pass@b/v")
    with pytest.raises(SettingsError) as caught:
        load_settings(NotifierSettings)
    assert "S3cret" not in str(caught.value)


def test_settings_take_a_cluster_list(monkeypatch):
    monkeypatch.setenv("AMQP_URL", CLUSTER)
    assert load_settings(NotifierSettings).amqp_url == CLUSTER


def test_a_provisioned_user_gets_a_url_for_every_node():
    url = amqp_url_for("amqp://incidents:x@127.0.0.1:5681/ops,amqp://incidents:x@127.0.0.1:5682/ops",
                       "vendor.acme@ops", "p,w", "ops")
    nodes = split_amqp_urls(url)
    assert [node_address(node) for node in nodes] == ["127.0.0.1:5681", "127.0.0.1:5682"]
    assert all((user_of(node), vhost_of(node)) == ("vendor.acme@ops", "ops") for node in nodes)
