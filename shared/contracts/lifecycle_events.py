"""Contracts of the ticket lifecycle: status changes, comments, feedback (intake's events)."""

from __future__ import annotations
