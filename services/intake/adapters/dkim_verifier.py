"""DKIM verification of a sender's domain with dkimpy: public keys from a pinned-keys file first, else DNS.

Blocking (DNS, RSA): call it off the event loop. A signature counts only when it verifies, its
`d=` is the From domain or a parent of it (relaxed alignment), it covers the From header, and it
signs the whole body (no `l=`, which would let anyone append text).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dkim
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config_files import load_config

log = logging.getLogger(__name__)
MAX_SIGNATURES = 5
"""Signatures looked at per message (each may cost a DNS lookup and an RSA verification)."""
_RECORD_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\._domainkey(\.[a-z0-9-]+)+$")

TxtLookup = Callable[..., bytes | None]


class PinnedDkimKeys(BaseModel):
    """The pinned-keys file: `keys: {'<selector>._domainkey.<domain>': 'v=DKIM1; k=rsa; p=...'}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _names(cls, keys: dict[str, str]) -> dict[str, str]:
        """Key record names look like DNS names of DKIM records; names are compared in lower case."""
        for name in keys:
            if _RECORD_NAME.match(name.lower().rstrip(".")) is None:
                raise ValueError(f"{name!r} is not a DKIM key record name (<selector>._domainkey.<domain>)")
        return {name.lower().rstrip("."): value for name, value in keys.items()}


def load_pinned_keys(path: Path | None) -> dict[str, str]:
    """Return the pinned DKIM key records of the file (none without one); raise ConfigFileError when it is invalid."""
    if path is None:
        return {}
    return dict(load_config(path, PinnedDkimKeys, what="DKIM keys file").keys)


@dataclass(frozen=True)
class DkimVerdict:
    """Whether the signature check passed; if not, why, and whether a retry could pass (a key lookup failed)."""

    passed: bool
    problem: str | None = None
    temporary: bool = False


class DkimVerifier:
    """Says whether an e-mail carries a valid DKIM signature of a given domain."""

    def __init__(self, pinned: Mapping[str, str], dns: TxtLookup | None = None, timeout: int = 5) -> None:
        self._pinned = dict(pinned)
        self._dns = dns or dkim.dnsplug.get_txt
        self._timeout = timeout

    def _txt(self, name: bytes | str, timeout: int = 5) -> bytes | None:
        """Return the key record of a DKIM DNS name: pinned if listed, else from DNS."""
        key = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).lower().rstrip(".")
        if key in self._pinned:
            return self._pinned[key].encode("ascii")
        return self._dns(name, timeout=timeout)

    def check(self, raw: bytes, domain: str) -> DkimVerdict:
        """Return whether a valid aligned signature of `domain` covers From and the whole body, and if not why."""
        domain = domain.lower().rstrip(".")
        seen = 0
        temporary = False
        problems: list[str] = []
        for index in range(MAX_SIGNATURES):
            verifier = dkim.DKIM(raw, minkey=1024, timeout=self._timeout)
            try:
                prepared = verifier.verify_headerprep(index)
                if not prepared:
                    break
                seen += 1
                signature, include_headers, _ = prepared
                signer = signature[b"d"].decode("ascii", "replace").lower().rstrip(".")
                if not (domain == signer or domain.endswith("." + signer)):
                    problems.append(f"a signature of {signer}, not of {domain}")
                    continue
                if b"from" not in include_headers:
                    problems.append("a signature that does not cover From")
                    continue
                if b"l" in signature:
                    problems.append("a signature of part of the body only (l=)")
                    continue
                if verifier.verify(index, dnsfunc=self._txt):
                    return DkimVerdict(passed=True)
                problems.append(f"a signature of {signer} that does not verify")
            except dkim.DKIMException as exc:
                problems.append(f"a signature that cannot be checked ({exc})")
            except Exception as exc:  # DNS failures and malformed keys: the mail is not proven, never a crash
                log.warning("DKIM check failed", extra={"x_error": f"{type(exc).__name__}: {exc}"})
                problems.append(f"a signature whose key could not be read ({type(exc).__name__})")
                temporary = True
        if not seen:
            return DkimVerdict(False, f"mail from {domain} must carry a DKIM signature of {domain}, and this one "
                                      "carries none")
        return DkimVerdict(False, f"mail from {domain} must carry a valid DKIM signature of {domain}; found "
                           + "; ".join(problems)[:300], temporary=temporary)
