"""Slack's own markup in text we did not write: `&`, `<` and `>` become entities (pure).

Slack reads `<...>` as a control sequence (`<!channel>`, `<!here>`, `<@U123>`, `<#C123>`,
`<http://x|label>`) in message text and in every text object of blocks, and `&` starts an entity.
Every value a Slack template receives is escaped before rendering, so only the templates' own
text can mention, link or format. The escape keeps the three entities it produces as they are,
so content rendered once for Slack (a held message folded into a digest) is not escaped twice,
and no input can produce an unescaped `<` or `>`.
"""

from __future__ import annotations

import re
from typing import Any

_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")


def escape(text: str) -> str:
    """Return text with `&`, `<` and `>` as Slack's entities (`&amp;`, `&lt;`, `&gt;`); escaping twice changes nothing."""
    return _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def escaped(value: Any) -> Any:
    """Return value with every string in it (through dicts, lists and tuples) escaped for Slack."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {key: escaped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(escaped(item) for item in value)
    return value
