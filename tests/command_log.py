"""A PyMongo command listener for tests that count or inspect the commands a piece of code sends."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class CommandLog(monitoring.CommandListener):
    """Records the name and body of every command started while `on` (all of them unless switched off)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.on = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, name: str) -> list[dict[str, Any]]:
        """Return the bodies of the commands of this name, in order."""
        return [command for command_name, command in self.commands if command_name == name]
