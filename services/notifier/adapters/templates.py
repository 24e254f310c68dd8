"""Jinja2 templates on disk, one file per message, channel and format."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class TemplateRenderer:
    """Renders `<message>.<channel>.<format>.j2`; missing variables are errors, HTML is escaped."""

    def __init__(self, directory: Path = TEMPLATE_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
        )

    def render(self, message: str, channel: str, fmt: str, context: dict) -> str | None:
        """Return the rendered text, or None if no template exists for that format."""
        try:
            template = self._env.get_template(f"{message}.{channel}.{fmt}.j2")
        except TemplateNotFound:
            return None
        return template.render(**context)
