"""Contracts of triage beyond ticket.triaged: reclassification, duplicates."""

from __future__ import annotations
