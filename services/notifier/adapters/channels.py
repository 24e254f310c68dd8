"""The interface every channel sender implements."""

from __future__ import annotations

from typing import Protocol

from services.notifier.domain.deliveries import Outgoing
from services.notifier.domain.retry import SendResult


class ChannelSender(Protocol):
    """Makes one attempt; never raises for delivery problems, it returns them classified."""

    async def send(self, outgoing: Outgoing) -> SendResult: ...
