"""Jinja2 templates on disk, one file per message, channel and format: `<message>.<channel>.<fmt>.j2`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from services.notifier.domain import slack
from services.notifier.domain.deliveries import Content, subject_with_number

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class TemplateRenderer:
    """Renders templates; missing variables are errors, HTML is escaped, and so is Slack markup in Slack messages."""

    def __init__(self, directory: Path = TEMPLATE_DIR, portal_url: str = "http://127.0.0.1:8080") -> None:
        self.directory = directory
        self._env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
        )
        self._env.globals["portal_url"] = portal_url.rstrip("/")
        """Every template may link to a ticket's page: {{ portal_url }}/tickets/{{ number }}."""

    def exists(self, message: str, channel: str, fmt: str) -> bool:
        """Return True if the template file for (message, channel, format) exists."""
        return (self.directory / f"{message}.{channel}.{fmt}.j2").is_file()

    def render(self, message: str, channel: str, fmt: str, context: dict) -> str | None:
        """Return the rendered text, or None if no template exists for that format."""
        try:
            template = self._env.get_template(f"{message}.{channel}.{fmt}.j2")
        except TemplateNotFound:
            return None
        return template.render(**context)

    def content(self, message: str, channel: str, context: dict[str, Any], number: str | None) -> Content:
        """Return subject, text and the optional HTML / Slack blocks of a message; raises LookupError if text is missing.

        For Slack every value in the context is escaped first (domain/slack.py): a title `<!channel>` shows as text.
        """
        if channel == "slack":
            context = slack.escaped(context)
        text = self.render(message, channel, "txt", context)
        if text is None:
            raise LookupError(f"no template {message}.{channel}.txt.j2")
        subject = self.render(message, channel, "subject", context) or text.strip().splitlines()[0]
        html = self.render(message, channel, "html", context) if channel == "email" else None
        blocks = None
        if channel == "slack":
            raw = self.render(message, channel, "json", context)
            if raw is not None:
                blocks = json.loads(raw)
                if not isinstance(blocks, list):
                    raise ValueError(f"{message}.slack.json.j2 must render a JSON array of blocks")
        return Content(subject=subject_with_number(subject, number), text=text, html=html, blocks=blocks)
