"""The three-node RabbitMQ cluster as a module fixture's body: started for the module, removed after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster import NODES, ClusterError, RabbitCluster
from bench.harness import IN_CI

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def private_cluster(directory: Path) -> Iterator[RabbitCluster]:
    """Yield three clustered nodes on free ports with their own data and cookie in directory; stop them after.

    The data and logs stay in directory (pytest's temporary directory, which pytest prunes itself), so a
    failure can be read afterwards.

    Skips when Debian's rabbitmq-server is missing, and fails instead under CI=true.
    """
    if not RABBITMQ_SERVER.exists():
        why = "Debian's rabbitmq-server is not installed (scripts/stack.sh infra installs it)"
        if IN_CI:
            pytest.fail(f"CI=true and {why}", pytrace=False)
        pytest.skip(why)
    cluster = RabbitCluster.private(directory)
    try:
        cluster.up()
    except ClusterError as exc:
        try:
            cluster.clean()
        finally:
            pytest.fail(f"the three-node cluster did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        try:
            cluster.down()
        except ClusterError:
            cluster.clean()


def whole(cluster: RabbitCluster) -> None:
    """Return once all three nodes run clustered again, starting any a failed test left stopped."""
    try:
        if len(cluster.running_nodes()) == len(NODES):
            return
    except ClusterError:
        pass
    cluster.up()
