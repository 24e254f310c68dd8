"""The optional on-call YAML file kept in git (ONCALL_FILE): loaded at start, it wins for what it defines.

Every problem is reported as `file:line: field: what is wrong`: shapes and types by the shared loader
(shared/config_files.py), what cannot work (an unknown zone, an empty rotation, a delay of zero) by the
domain, and references that do not resolve once the file is combined with what the database stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from services.escalation.adapters.oncall_build import LocatedError, dotted, locate, to_parts
from services.escalation.adapters.oncall_models import OnCallDocument
from services.escalation.domain.oncall.config import OnCallParts
from shared.config_files import ConfigFileError, line_of, parse_config

WHAT = "on-call file"


@dataclass(frozen=True)
class OnCallFile:
    """A loaded on-call file: where it is, what it says, and its items in the domain."""

    path: Path
    document: OnCallDocument
    parts: OnCallParts
    root: yaml.Node

    def where(self, field: str) -> str | None:
        """Return `file:line` of a combined-configuration field if it points into this file, else None."""
        loc = locate(self.document, field)
        return f"{self.path}:{line_of(self.root, loc)}" if loc is not None else None


def parse_oncall(text: str, source: str) -> OnCallFile:
    """Return the on-call configuration in YAML text; raise ConfigFileError naming `source:line` and the field."""
    document = parse_config(text, OnCallDocument, source=source, what=WHAT)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    try:
        parts = to_parts(document)
    except LocatedError as exc:
        raise ConfigFileError(f"invalid {WHAT}:\n{source}:{line_of(root, exc.loc)}: {dotted(exc.loc)}: "
                              f"{exc.problem}") from None
    return OnCallFile(Path(source), document, parts, root)


def load_oncall_file(path: Path) -> OnCallFile:
    """Return the on-call file at path; raise ConfigFileError naming file, line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the {WHAT}: {exc.strerror or exc}") from exc
    return parse_oncall(text, str(path))
