"""Reads the triage rules file (YAML) into a TriagePolicy; every error names the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.triage.config import RulesFile
from services.triage.domain.policy import TriagePolicy

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.yaml")
MAX_REPORTED_ERRORS = 10


class RulesFileError(ValueError):
    """The rules file cannot be used; the message names the file, line and problem."""


def load_policy(path: Path | None = None) -> TriagePolicy:
    """Return the policy in the rules file (the packaged KB-005 defaults if path is None).

    Raises RulesFileError naming the file and line of every problem found.
    """
    path = path or DEFAULT_RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read the triage rules file: {exc.strerror or exc}") from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<rules>") -> TriagePolicy:
    """Return the policy in YAML text; raises RulesFileError with `source:line: problem` lines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesFileError(f"{source}{line}: not valid YAML: {problem}") from exc
    if root is None or not isinstance(data, dict):
        raise RulesFileError(f"{source}:1: the rules file must be a mapping with severity, routing, sla, calendar, duplicates")
    _refuse_duplicate_keys(root, source)
    for section, items in (("severity", "rules"), ("routing", "routes")):
        _refuse_repeated_ids(_child(_child(root, section), items), f"{section}.{items}", source)
    try:
        return RulesFile.model_validate(data).build()
    except ValidationError as exc:
        lines = []
        for error in exc.errors()[:MAX_REPORTED_ERRORS]:
            where = ".".join(str(p) for p in error["loc"] if p != "[key]") or "(top)"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{_line_of(root, error['loc'])}: {where}: {message}")
        raise RulesFileError("invalid triage rules file:\n" + "\n".join(lines)) from exc
    except ValueError as exc:
        raise RulesFileError(f"{source}: {exc}") from exc


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
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


def _refuse_duplicate_keys(node: yaml.Node, source: str) -> None:
    """Raise RulesFileError at the second occurrence of a key in any mapping (YAML would keep only the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if str(key.value) in seen:
                raise RulesFileError(f"{source}:{key.start_mark.line + 1}: key {key.value!r} appears twice")
            seen.add(str(key.value))
            _refuse_duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, source)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """Return the value node under key in a mapping node, or None."""
    if isinstance(node, yaml.MappingNode):
        return next((value for k, value in node.value if str(k.value) == key), None)
    return None


def _refuse_repeated_ids(node: yaml.Node | None, where: str, source: str) -> None:
    """Raise RulesFileError at the second list item reusing an `id` (first-match lists need unique ids)."""
    if not isinstance(node, yaml.SequenceNode):
        return
    seen: set[str] = set()
    for index, item in enumerate(node.value):
        id_node = _child(item, "id")
        if id_node is None:
            continue
        if str(id_node.value) in seen:
            raise RulesFileError(f"{source}:{id_node.start_mark.line + 1}: {where}.{index}.id: {id_node.value!r} is used twice")
        seen.add(str(id_node.value))
