"""Replicas share a port: each binds its own SO_REUSEPORT socket, and a port taken without it stays refused."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from services.cli import shared_port_socket

STACK = Path(__file__).resolve().parents[2] / "scripts" / "stack.sh"


def test_two_replicas_bind_the_same_port_and_both_accept():
    first = shared_port_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = shared_port_socket("127.0.0.1", port)
    try:
        for sock in (first, second):
            sock.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the kernel hands the connection to one of the two listeners
    finally:
        first.close()
        second.close()


def test_a_port_held_without_reuse_is_not_shared():
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    try:
        with pytest.raises(OSError):
            shared_port_socket("127.0.0.1", plain.getsockname()[1]).close()
    finally:
        plain.close()


@pytest.mark.parametrize("replicas", ["0", "x", "100", "-1"])
def test_the_stack_script_refuses_a_bad_replica_count(replicas):
    result = subprocess.run(["bash", str(STACK), "status"], env={"REPLICAS": replicas, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "REPLICAS must be a number from 1 to 99" in result.stderr
