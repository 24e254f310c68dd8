"""The portal's sessions and sign-in links on the real database: single use under concurrency, expiry, revocation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.adapters.sign_in_tokens import COUNTERS, TOKENS, MongoSignInTokens, digest
from services.intake.adapters.web_sessions import COLLECTION, MongoWebSessions, session_hash
from services.intake.domain.principals import Principal, Role

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADA = Principal(id="01ADA", role=Role.REPORTER, name="Ada", email="ada@example.com")


async def test_a_link_is_stored_hashed_and_redeemed_exactly_once_under_concurrency(db):
    tokens = MongoSignInTokens(db)
    token = await tokens.issue("ada@example.com", "/tickets", T0, T0 + timedelta(minutes=15))
    stored = await db[TOKENS].find_one({"_id": digest(token)})
    assert stored is not None and token not in str(stored), "only the hash of the token is stored"
    winners = await asyncio.gather(*(MongoSignInTokens(db).redeem(token, T0 + timedelta(minutes=1)) for _ in range(8)))
    assert sum(w is not None for w in winners) == 1, "eight tabs opening one link sign in once"
    assert (await tokens.peek(token))["used_at"] is not None


async def test_an_expired_link_does_not_redeem(db):
    tokens = MongoSignInTokens(db)
    token = await tokens.issue("ada@example.com", "/tickets", T0, T0 + timedelta(minutes=15))
    assert await tokens.redeem(token, T0 + timedelta(minutes=15)) is None
    assert await tokens.redeem("x" * 500, T0) is None


async def test_a_claim_is_accepted_once_and_counters_count_per_window(db):
    tokens = MongoSignInTokens(db)
    results = await asyncio.gather(*(MongoSignInTokens(db).claim_once("jti-1", T0, T0 + timedelta(minutes=5))
                                     for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    counts = [await tokens.count("address", "ada@example.com", T0 + timedelta(minutes=m), timedelta(hours=1))
              for m in (0, 10, 20)]
    assert counts == [1, 2, 3]
    assert await tokens.count("address", "ada@example.com", T0 + timedelta(hours=1), timedelta(hours=1)) == 1
    assert "ada@example.com" not in str([d async for d in db[COUNTERS].find({})]), "addresses are stored hashed"


async def test_expired_links_claims_and_counters_are_deleted_from_the_wheel(db):
    tokens = MongoSignInTokens(db)
    await tokens.issue("ada@example.com", "/tickets", T0, T0 + timedelta(minutes=15))
    await tokens.claim_once("jti-2", T0, T0 + timedelta(minutes=5))
    await tokens.count("ip", "10.0.0.1", T0, timedelta(hours=1))
    assert await tokens.expire(T0 + timedelta(days=2)) == 3
    assert await db[TOKENS].count_documents({}) == 0 and await db[COUNTERS].count_documents({}) == 0


async def test_sessions_resolve_until_they_end_expire_or_their_owner_is_revoked(db):
    sessions = MongoWebSessions(db)
    first = await sessions.create(ADA, T0, T0 + timedelta(hours=12), via="e-mail link")
    second = await sessions.create(ADA, T0, T0 + timedelta(hours=12), via="host token")
    assert await db[COLLECTION].find_one({"_id": session_hash(first)}) is not None
    assert await db[COLLECTION].find_one({"_id": first}) is None, "the session id itself is never stored"
    assert await sessions.principal(first, T0 + timedelta(hours=1)) == ADA
    assert await sessions.principal(first, T0 + timedelta(hours=12)) is None, "expired"
    await sessions.end(first)
    assert await sessions.principal(first, T0) is None, "signed out: the server forgets it at once"
    assert await sessions.end_all(ADA.id) == 1
    assert await sessions.principal(second, T0) is None, "revoked with its owner"
    third = await sessions.create(ADA, T0, T0 + timedelta(hours=1), via="e-mail link")
    assert await sessions.expire(T0 + timedelta(hours=2)) == 1
    assert await sessions.principal(third, T0) is None
