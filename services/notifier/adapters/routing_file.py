"""Loads and validates the routing YAML at start, turning every problem into one readable error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from services.notifier.domain.routing import Router, RoutingConfig
from shared.config_files import ConfigFileError, load_config

DEFAULT_ROUTING_FILE = Path(__file__).resolve().parent.parent / "routing.yaml"


def load_router(path: Path, environ: Mapping[str, str], has_template: Callable[[str, str, str], bool]) -> Router:
    """Return a Router for the file; endpoints whose url_env is unset are left unconfigured (skipped).

    Raises ConfigFileError naming the file, line and problem.
    """
    config = load_config(path, RoutingConfig, what="routing file")
    missing = config.missing_templates(has_template)
    if missing:
        raise ConfigFileError(f"{path}: routes messages without templates: {', '.join(missing)}")
    urls = {
        name: endpoint.url if endpoint.url is not None else (environ.get(endpoint.url_env or "") or None)
        for name, endpoint in config.endpoints.items()
    }
    return Router(config, urls)
