"""YAML configuration files read into pydantic models; every problem is reported as `file:line: where: what`.

One loader for every configuration file of the platform (service levels, triage rules, escalation
policy, notifier routing, on-call), so they all fail the same way: at start, naming the file, the
line and the field. YAML that would silently lose data is refused too: a key given twice in one
mapping, and an `id` repeated within one list of items.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
MAX_REPORTED_ERRORS = 10


class ConfigFileError(ValueError):
    """A configuration file cannot be used; each line of the message is `file:line: where: what`."""


@dataclass(frozen=True)
class LoadedFile:
    """A configuration file exactly as a service read and validated it: what it is, where from, its text."""

    what: str
    source: str
    text: str

    @property
    def sha256(self) -> str:
        """Return the SHA-256 of the text, to compare with the file on disk or another replica's copy."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_config(path: Path, model: type[M], *, what: str, loaded: list[LoadedFile] | None = None) -> M:
    """Return the file's content validated as `model`; raise ConfigFileError naming file, line and field.

    With `loaded`, the text that was read and validated is appended to it (a service shows it to its staff).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    validated = parse_config(text, model, source=str(path), what=what)
    if loaded is not None:
        loaded.append(LoadedFile(what=what, source=str(path), text=text))
    return validated


def parse_config(text: str, model: type[M], *, source: str = "<text>", what: str = "configuration") -> M:
    """Return YAML text validated as `model`; raise ConfigFileError with one `source:line: ...` line per problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"{source}{line}: not valid YAML: {problem}") from exc
    if root is None or not isinstance(data, dict):
        raise ConfigFileError(f"{source}:1: the {what} must be a mapping at the top level")
    problems = _duplicate_keys(root, source) + _repeated_ids(root, source)
    if problems:
        raise ConfigFileError(f"invalid {what}:\n" + "\n".join(problems[:MAX_REPORTED_ERRORS]))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors()[:MAX_REPORTED_ERRORS]:
            where = ".".join(str(p) for p in error["loc"] if p != "[key]") or "(top)"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{line_of(root, error['loc'])}: {where}: {message}")
        raise ConfigFileError(f"invalid {what}:\n" + "\n".join(lines)) from exc


def line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """Return the 1-based line of the node a validation error's location points at (or its nearest parent)."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if match is None:
                continue
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def _duplicate_keys(node: yaml.Node, source: str) -> list[str]:
    """Return a problem for every second occurrence of a key in a mapping (YAML would keep only the last)."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if str(key.value) in seen:
                problems.append(f"{source}:{key.start_mark.line + 1}: key {key.value!r} appears twice")
            seen.add(str(key.value))
            problems += _duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item, source)
    return problems


def _repeated_ids(node: yaml.Node, source: str, where: str = "") -> list[str]:
    """Return a problem for every list item reusing the `id` of an earlier item of the same list."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            problems += _repeated_ids(value, source, f"{where}.{key.value}" if where else str(key.value))
    elif isinstance(node, yaml.SequenceNode):
        seen: set[str] = set()
        for index, item in enumerate(node.value):
            id_node = _child(item, "id")
            if id_node is not None:
                if str(id_node.value) in seen:
                    problems.append(f"{source}:{id_node.start_mark.line + 1}: {where}.{index}.id: "
                                    f"{id_node.value!r} is used twice")
                seen.add(str(id_node.value))
            problems += _repeated_ids(item, source, f"{where}.{index}")
    return problems


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """Return the value node under key in a mapping node, or None."""
    if isinstance(node, yaml.MappingNode):
        return next((value for k, value in node.value if str(k.value) == key), None)
    return None
