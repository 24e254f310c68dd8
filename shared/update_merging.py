"""Merging MongoDB update documents for one `_id` into one update with the same effect as applying them in order (pure).

Understood operators: `$set` and `$unset` (the later one replaces whatever came before on a path),
`$addToSet` (values gathered with `$each`), `$min` and `$max` (the extreme kept). Anything else, or
two of the last three on one path, raises ValueError: an update that cannot be merged must be
written on its own, never merged wrongly.
"""

from __future__ import annotations

from typing import Any

Update = dict[str, dict[str, Any]]
MERGEABLE = frozenset({"$set", "$unset", "$addToSet", "$min", "$max"})


def merged_update(first: Update, second: Update) -> Update:
    """Return one update equal to applying first, then second, to the same document (inputs unchanged)."""
    for operator in (*first, *second):
        if operator not in MERGEABLE:
            raise ValueError(f"cannot merge updates using {operator}")
    result: Update = {operator: dict(fields) for operator, fields in first.items()}
    for operator in ("$set", "$unset"):
        for field, value in second.get(operator, {}).items():
            for earlier in result.values():  # a later $set or $unset replaces whatever came before on the path
                earlier.pop(field, None)
            result.setdefault(operator, {})[field] = value if operator == "$set" else ""
    for operator in ("$addToSet", "$min", "$max"):
        for field, value in second.get(operator, {}).items():
            if any(field in fields for other, fields in result.items() if other != operator):
                raise ValueError(f"cannot merge {operator} on {field} after another operator on it")
            combined = result.setdefault(operator, {})
            if field not in combined:
                combined[field] = {"$each": _each(value)} if operator == "$addToSet" else value
            elif operator == "$addToSet":
                combined[field] = {"$each": [*_each(combined[field]), *_each(value)]}
            else:
                combined[field] = (min if operator == "$min" else max)(combined[field], value)
    return {operator: fields for operator, fields in result.items() if fields}


def merge_into(combined: dict[str, Update], updates: dict[str, Update]) -> None:
    """Fold {document id: update} into combined, one merged update per document id."""
    for doc_id, update in updates.items():
        combined[doc_id] = merged_update(combined[doc_id], update) if doc_id in combined else update


def upserts(update: Update) -> bool:
    """Return True if applying the update to a missing document should create it (anything but pure removals)."""
    return any(operator != "$unset" for operator in update)


def _each(value: Any) -> list[Any]:
    """Return the values an `$addToSet` operand adds."""
    return list(value["$each"]) if isinstance(value, dict) and "$each" in value else [value]
