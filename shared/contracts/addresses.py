"""The one check of e-mail addresses every way in uses (CLI, API, e-mail intake, event contracts, notifier).

Syntax only (RFC 5321/5322 addr-spec, with RFC 6531 UTF-8): no deliverability and no special-use
check, because internal domains (`platform.local`, `.test`, `.internal`, `.corp`) are where support
desks live. An address that passes here is accepted everywhere, so no later step refuses it.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

MAX_ADDRESS = 254
"""RFC 5321 path limit (256) less the angle brackets."""
MAX_LOCAL_PART = 64
MAX_DOMAIN = 253
MAX_LABEL = 63
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_ATOM = re.compile(rf"^{_ATEXT}+(\.{_ATEXT}+)*$")
_QUOTED = re.compile(r'^"([\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"$')
_LABEL = re.compile(r"^[A-Za-z0-9\u0080-\U0010ffff]([A-Za-z0-9\-\u0080-\U0010ffff]*[A-Za-z0-9\u0080-\U0010ffff])?$")


def parse_email_address(value: str) -> str:
    """Return the address with its domain in lower case; raise ValueError saying what is wrong with it."""
    if not isinstance(value, str):
        raise ValueError("an e-mail address must be a string")
    address = value.strip()
    if not address:
        raise ValueError("the e-mail address is empty")
    if any(ch != " " and unicodedata.category(ch)[0] in "CZ" for ch in address):
        raise ValueError("an e-mail address may not contain control, format or white-space characters")
    if len(address.encode("utf-8")) > MAX_ADDRESS:
        raise ValueError(f"an e-mail address has at most {MAX_ADDRESS} bytes")
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"{address!r} is not an e-mail address: it needs a part before and after one @")
    _check_local_part(local)
    return f"{local}@{_checked_domain(domain)}"


def _check_local_part(local: str) -> None:
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise ValueError(f"the part before the @ has at most {MAX_LOCAL_PART} bytes")
    if _DOT_ATOM.match(local) is None and _QUOTED.match(local) is None:
        raise ValueError(f"{local!r} is not a valid part before the @ (letters, digits, !#$%&'*+-/=?^_`{{|}}~ and "
                         "single dots between them, or a quoted string)")


def _checked_domain(domain: str) -> str:
    if not domain:
        raise ValueError("the part after the @ is empty")
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        try:
            if literal.lower().startswith("ipv6:"):
                ipaddress.IPv6Address(literal[5:])
            else:
                ipaddress.IPv4Address(literal)
        except ValueError as exc:
            raise ValueError(f"{domain!r} is not an address literal ([IPv4] or [IPv6:...])") from exc
        return domain.lower()
    if len(domain) > MAX_DOMAIN:
        raise ValueError(f"the part after the @ has at most {MAX_DOMAIN} characters")
    for label in domain.split("."):
        if not label:
            raise ValueError(f"{domain!r} has an empty label (two dots in a row, or a dot at an end)")
        if len(label) > MAX_LABEL or _LABEL.match(label) is None:
            raise ValueError(f"{domain!r} is not a domain: each label is 1-{MAX_LABEL} letters, digits or inner hyphens")
    return domain.lower()


EmailAddress = Annotated[
    str,
    AfterValidator(parse_email_address),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": MAX_ADDRESS}),
]
"""A str field holding an e-mail address checked by parse_email_address (what every contract and schema uses)."""
