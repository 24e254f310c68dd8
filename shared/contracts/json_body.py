"""Decoding a message body that anyone on the bus may have written: bounded size, depth and numbers.

`json.loads` alone lets hostile bodies escape as RecursionError (`[` x 1,000) or ValueError (an integer
of 5,000 digits), accepts UTF-16 and NaN, and decodes any size; here each of those is a ContractError
whose reason goes to the dead-letter queue.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from shared.contracts.envelope import ContractError

MAX_BODY_BYTES = 1024 * 1024
"""Far above any contract (its longest texts are 20,000 characters), far below RabbitMQ's limit."""
MAX_DEPTH = 32
"""Contracts nest a few levels; a deeper body is hostile or broken."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _nesting_depth(text: str) -> int:
    """Return the deepest bracket nesting of JSON text outside strings (unclosed brackets count too)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _no_constant(name: str) -> Any:
    raise ContractError(f"body holds {name}, which is not JSON")


def load_json_object(body: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Return the JSON object a UTF-8 body holds, or raise ContractError saying why it cannot be one."""
    if len(body) > max_bytes:
        raise ContractError(f"body is {len(body)} bytes; the limit is {max_bytes}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(f"body is not UTF-8: {exc}") from exc
    if _nesting_depth(text) > max_depth:
        raise ContractError(f"body is JSON nested deeper than {max_depth} levels")
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except ContractError:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise ContractError(f"body is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(raw, dict):
        raise ContractError(f"body is not a JSON object but a JSON {_JSON_TYPES.get(type(raw), 'value')}")
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ContractError(f"body holds a lone surrogate escape, which is not Unicode text: {exc.reason}") from exc
    return raw
