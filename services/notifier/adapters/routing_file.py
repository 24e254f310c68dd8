"""Loads and validates the routing YAML at start, turning every problem into one readable error.

Endpoint URLs and webhook signing secrets are read here, from the environment variables and files
the routing file names; error messages name the variable or file, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from services.notifier.domain.routing import Endpoint, Router, RoutingConfig
from services.notifier.domain.signing import SigningKey
from shared.config_files import ConfigFileError, LoadedFile, load_config
from shared.settings import PLACEHOLDER_MARKERS

log = logging.getLogger(__name__)

DEFAULT_ROUTING_FILE = Path(__file__).resolve().parent.parent / "routing.yaml"
DEVELOPMENT_KEY_ID = "development"
"""The key id of WEBHOOK_SIGNING_SECRET, which signs endpoints without a secret of their own outside production."""
MIN_SECRET_LENGTH = 16


def load_router(path: Path, environ: Mapping[str, str], has_template: Callable[[str, str, str], bool], *,
                production: bool = False, fallback_secret: str | None = None,
                loaded: list[LoadedFile] | None = None) -> Router:
    """Return a Router for the file; endpoints whose url_env is unset are left unconfigured (skipped).

    Each configured generic webhook endpoint gets its own signing key from `secret_env` or
    `secret_file`. In production a missing, short or placeholder secret is an error; elsewhere an
    endpoint without one is signed with `fallback_secret` (WEBHOOK_SIGNING_SECRET) if given, else
    left without a key (the notifier refuses to start with such an endpoint; see bootstrap).
    Raises ConfigFileError naming the file, line and problem. The text read is appended to `loaded` when given.
    """
    config = load_config(path, RoutingConfig, what="routing file", loaded=loaded)
    missing = config.missing_templates(has_template)
    if missing:
        raise ConfigFileError(f"{path}: routes messages without templates: {', '.join(missing)}")
    urls = {
        name: endpoint.url if endpoint.url is not None else (environ.get(endpoint.url_env or "") or None)
        for name, endpoint in config.endpoints.items()
    }
    keys: dict[str, SigningKey] = {}
    problems: list[str] = []
    for name in sorted(config.webhook_endpoints()):
        if urls.get(name) is None:
            continue
        endpoint = config.endpoints[name]
        secret, source = read_secret(endpoint, path.parent, environ)
        if secret is None:
            if production:
                problems.append(f"endpoints.{name}: generic webhook endpoint without a signing secret ({source})")
            elif fallback_secret:
                log.warning("webhook endpoint %s has no signing secret (%s); signing with WEBHOOK_SIGNING_SECRET, "
                            "key id %r (development only)", name, source, DEVELOPMENT_KEY_ID)
                keys[name] = SigningKey(DEVELOPMENT_KEY_ID, fallback_secret)
            continue
        if production and (weakness := weak_secret(secret)):
            problems.append(f"endpoints.{name}: the signing secret in {source} {weakness}")
            continue
        keys[name] = SigningKey(endpoint.key_id or name, secret)
    if problems:
        raise ConfigFileError(f"{path}: " + "; ".join(problems) + " (every generic webhook endpoint needs a "
                              f"secret of its own in production: secret_env or secret_file, "
                              f"at least {MIN_SECRET_LENGTH} characters)")
    return Router(config, urls, keys)


def read_secret(endpoint: Endpoint, base: Path, environ: Mapping[str, str]) -> tuple[str | None, str]:
    """Return an endpoint's signing secret (None if missing) and where it comes from, for messages (never the value).

    A relative secret_file is read relative to the routing file; surrounding whitespace is dropped.
    """
    if endpoint.secret_env is not None:
        value = (environ.get(endpoint.secret_env) or "").strip()
        where = f"environment variable {endpoint.secret_env}"
        return (value, where) if value else (None, f"{where} is unset or empty")
    if endpoint.secret_file is not None:
        file = Path(endpoint.secret_file)
        file = file if file.is_absolute() else base / file
        where = f"file {file}"
        try:
            value = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"{where} cannot be read: {getattr(exc, 'strerror', None) or type(exc).__name__}"
        return (value, where) if value else (None, f"{where} is empty")
    return None, "neither secret_env nor secret_file is set"


def weak_secret(secret: str) -> str | None:
    """Return why a secret may not be used in production (too short, a placeholder), or None."""
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if any(marker in secret.lower() for marker in PLACEHOLDER_MARKERS):
        return "is a placeholder"
    return None
