"""Loads and validates the routing YAML at start, turning every problem into one readable error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.notifier.domain.routing import Router, RoutingConfig

DEFAULT_ROUTING_FILE = Path(__file__).resolve().parent.parent / "routing.yaml"


class RoutingConfigError(ValueError):
    """The routing file is missing, not YAML, or not a valid routing configuration."""


def load_router(path: Path, environ: Mapping[str, str], has_template: Callable[[str, str, str], bool]) -> Router:
    """Return a Router for the file; endpoints whose url_env is unset are left unconfigured (skipped)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingConfigError(f"routing file {path} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"routing file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RoutingConfigError(f"routing file {path} must hold a mapping at the top level")
    try:
        config = RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise RoutingConfigError(f"routing file {path} is invalid: {details}") from exc
    missing = config.missing_templates(has_template)
    if missing:
        raise RoutingConfigError(f"routing file {path} routes messages without templates: {', '.join(missing)}")
    urls = {
        name: endpoint.url if endpoint.url is not None else (environ.get(endpoint.url_env or "") or None)
        for name, endpoint in config.endpoints.items()
    }
    return Router(config, urls)
