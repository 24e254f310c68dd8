"""Packed values: a nested document stored as one BSON binary value, for parts of documents never queried.

The docstore (FerretDB v1) keeps a type schema for every field of a stored document and decodes and
re-encodes all of them on every update, so a document's cost grows with its number of fields, not
only its bytes. Summaries in view shelves and a ticket's timeline entries are read whole and never
filtered on, so each is stored as one value: measured in `python -m bench.view_entries`. A value an
older build stored as a nested document is read as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from bson import Binary
from bson.codec_options import CodecOptions

DECODING = CodecOptions(tz_aware=True)


def pack(value: Any) -> Any:
    """Return a document packed into one binary value (anything else as it is)."""
    return Binary(bson.encode(value)) if isinstance(value, dict) else value


def unpack(value: Any) -> Any:
    """Return a packed value as the document it holds (datetimes aware, UTC); anything else as it is."""
    return bson.decode(value, DECODING) if isinstance(value, bytes) else value


def pack_all(values: Iterable[Any]) -> list[Any]:
    """Return every value packed."""
    return [pack(value) for value in values]


def unpack_all(values: Iterable[Any]) -> list[Any]:
    """Return every value unpacked."""
    return [unpack(value) for value in values]
