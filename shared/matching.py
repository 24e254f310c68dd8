"""Evaluate a MongoDB query condition against a document in Python (the subset our guards use).

Used where the database can only look documents up by `_id` quickly (the docstore): the
document is read by `_id` and the condition checked here. Unsupported operators raise.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def _values(document: Any, path: list[str]) -> list[Any]:
    """Return every value at a dotted path, following arrays like MongoDB does (missing → [])."""
    if not path:
        return [document]
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return _values(document[head], rest) if head in document else []
    if isinstance(document, list):
        if head.isdigit():
            index = int(head)
            return _values(document[index], rest) if index < len(document) else []
        found: list[Any] = []
        for item in document:
            if isinstance(item, dict | list):
                found += _values(item, path)
        return found
    return []


def _equals(candidates: list[Any], expected: Any) -> bool:
    """Return True if a value equals expected, or is an array containing it (missing equals None)."""
    if not candidates:
        return expected is None
    for value in candidates:
        if value == expected or (isinstance(value, list) and expected in value):
            return True
    return False


def _compare(candidates: list[Any], operator: str, bound: Any) -> bool:
    tests = {"$lt": lambda v: v < bound, "$lte": lambda v: v <= bound,
             "$gt": lambda v: v > bound, "$gte": lambda v: v >= bound}[operator]
    for value in candidates:
        for item in value if isinstance(value, list) else [value]:
            try:
                if item is not None and tests(item):
                    return True
            except TypeError:
                continue
    return False


def _match_field(document: dict[str, Any], path: str, spec: Any) -> bool:
    candidates = _values(document, path.split("."))
    if not (isinstance(spec, dict) and spec and all(k.startswith("$") for k in spec)):
        return _equals(candidates, spec)
    for operator, operand in spec.items():
        if operator == "$eq":
            ok = _equals(candidates, operand)
        elif operator == "$ne":
            ok = not _equals(candidates, operand)
        elif operator == "$in":
            ok = any(_equals(candidates, item) for item in operand)
        elif operator == "$nin":
            ok = not any(_equals(candidates, item) for item in operand)
        elif operator == "$exists":
            ok = bool(candidates) == bool(operand)
        elif operator in ("$lt", "$lte", "$gt", "$gte"):
            ok = _compare(candidates, operator, operand)
        else:
            raise NotImplementedError(f"condition operator {operator} is not supported by matches()")
        if not ok:
            return False
    return True


def matches(document: dict[str, Any], condition: dict[str, Any]) -> bool:
    """Return True if the document satisfies the condition, with MongoDB's semantics for our subset."""
    for key, spec in condition.items():
        if key == "$or":
            if not any(matches(document, branch) for branch in spec):
                return False
        elif key == "$and":
            if not all(matches(document, branch) for branch in spec):
                return False
        elif key.startswith("$"):
            raise NotImplementedError(f"condition operator {key} is not supported by matches()")
        elif not _match_field(document, key, spec):
            return False
    return True
