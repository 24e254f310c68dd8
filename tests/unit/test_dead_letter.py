"""A publisher's headers cannot break the retry path: the delivery count is read defensively."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared.messaging.dead_letter import delivery_attempts


@pytest.mark.parametrize(
    ("headers", "attempt"),
    [(None, 1), ({}, 1), ({"x-delivery-count": 2}, 3), ({"x-delivery-count": "abc"}, 1),
     ({"x-delivery-count": -5}, 1), ({"x-delivery-count": True}, 1), ({"x-delivery-count": [1]}, 1),
     ({"x-delivery-count": 1.5}, 1)],
)
def test_delivery_attempts_ignore_what_a_publisher_wrote(headers, attempt):
    assert delivery_attempts(SimpleNamespace(headers=headers)) == attempt
