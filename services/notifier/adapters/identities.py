"""Who is calling the notifier's API: the shared client of intake's `GET /v1/me` (shared/identities.py)."""

from shared.identities import IdentityUnavailable, IntakeIdentities, KeyRoles

__all__ = ["IdentityUnavailable", "IntakeIdentities", "KeyRoles"]
