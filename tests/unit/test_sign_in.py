"""Signing in to the portal: one-time links and host tokens (fakes and a fake clock)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from services.intake.domain.principals import Role
from services.intake.entrypoints.example_host import host_token
from services.intake.service_layer import sign_in
from services.intake.service_layer.sign_in import (
    HostTokenRefused,
    LinkRefused,
    SignInRules,
    TooManyRequests,
)
from shared.clock import FakeClock
from tests.fakes import FakeApiKeys, FakeMailer, FakeSignInTokens, FakeWebSessions

SECRET = "a-host-secret-of-some-length-0123456789"


def rules(**overrides) -> SignInRules:
    values = dict(portal_url="http://portal.test", link_lifetime=timedelta(minutes=15),
                  session_lifetime=timedelta(hours=12), per_address_per_hour=3, per_ip_per_hour=10,
                  create_unknown=True, host_secret=SECRET, host_token_max_age=timedelta(minutes=10))
    values.update(overrides)
    return SignInRules(**values)


class World:
    def __init__(self, **rule_overrides) -> None:
        self.clock = FakeClock()
        self.tokens = FakeSignInTokens()
        self.keys = FakeApiKeys()
        self.mailer = FakeMailer()
        self.sessions = FakeWebSessions()
        self.rules = rules(**rule_overrides)
        self.spawned: list = []

    async def ask(self, email: str, client: str = "10.0.0.1", next_path: str = "/tickets") -> None:
        await sign_in.request_link(email, next_path, client, tokens=self.tokens, api_keys=self.keys, mailer=self.mailer,
                                   compose=lambda link, minutes: ("Sign in", f"{link} ({minutes} min)", link),
                                   rules=self.rules, clock=self.clock, spawn=self.spawned.append)

    async def sends(self) -> list[bool]:
        results = await asyncio.gather(*self.spawned)
        self.spawned.clear()
        return list(results)

    def link_token(self) -> str:
        return self.mailer.sent[-1]["text"].split("token=")[1].split(" ")[0]

    async def redeem(self, token: str):
        return await sign_in.redeem_link(token, tokens=self.tokens, api_keys=self.keys, sessions=self.sessions,
                                         rules=self.rules, clock=self.clock)


async def test_a_link_signs_in_once_and_goes_where_the_person_was_going():
    world = World()
    await world.ask("ada@example.com", next_path="/tickets/INC-000001")
    assert await world.sends() == [True]
    token = world.link_token()
    session_id, next_path, person = await world.redeem(token)
    assert next_path == "/tickets/INC-000001" and person.role is Role.REPORTER and person.email == "ada@example.com"
    assert await world.sessions.principal(session_id, world.clock.now()) == person
    with pytest.raises(LinkRefused) as again:
        await world.redeem(token)
    assert again.value.why == "used"


async def test_a_link_expires_after_its_lifetime():
    world = World()
    await world.ask("ada@example.com")
    await world.sends()
    world.clock.advance(timedelta(minutes=15, seconds=1))
    with pytest.raises(LinkRefused) as late:
        await world.redeem(world.link_token())
    assert late.value.why == "expired"
    with pytest.raises(LinkRefused) as made_up:
        await world.redeem("not-a-token")
    assert made_up.value.why == "unknown"


async def test_known_and_unknown_addresses_get_the_same_answer_and_reject_mode_mails_nobody_unknown():
    world = World(create_unknown=False)
    await world.keys.create(Role.REPORTER, "Ada", "ada@example.com", world.clock.now())
    assert await world.ask("ada@example.com") is None
    assert await world.ask("stranger@example.com") is None  # the same return, the same path
    assert await world.sends() == [True, False]
    assert [m["to"] for m in world.mailer.sent] == ["ada@example.com"]


async def test_staff_sign_in_as_themselves_vendors_do_not_and_unknown_addresses_become_reporters():
    world = World()
    _, agent = await world.keys.create(Role.AGENT, "Ann", "ann@support.example", world.clock.now())
    await world.keys.create(Role.VENDOR, "Acme", "ops@acme.example", world.clock.now(), vendor_id="acme")
    for address in ("ann@support.example", "ops@acme.example", "new@example.com"):
        await world.ask(address)
    assert await world.sends() == [True, False, True]
    assert (await world.redeem(world.mailer.sent[0]["text"].split("token=")[1].split(" ")[0]))[2] == agent
    newcomer = (await world.redeem(world.link_token()))[2]
    assert newcomer.role is Role.REPORTER and newcomer.email == "new@example.com"


async def test_requests_are_limited_per_address_and_per_client_address():
    world = World()
    for _ in range(3):
        await world.ask("ada@example.com")
    with pytest.raises(TooManyRequests):
        await world.ask("ada@example.com", client="10.0.0.2")
    world.clock.advance(timedelta(hours=1))
    await world.ask("ada@example.com")
    for n in range(10 - 1):
        await world.ask(f"person{n}@example.com", client="10.9.9.9")
    await world.ask("last@example.com", client="10.9.9.9")
    with pytest.raises(TooManyRequests):
        await world.ask("one-more@example.com", client="10.9.9.9")
    assert len(await world.sends()) == 3 + 1 + 10, "a refused request sends nothing"


def signed(claims: dict, secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_host_token_names_its_user():
    world = World()
    now = world.clock.now()
    claims = sign_in.verify_host_token(host_token(SECRET, "Ada@Example.com", "Ada", now.timestamp()), rules=world.rules,
                                       now=now)
    assert claims.email == "ada@example.com" and claims.name == "Ada"


@pytest.mark.parametrize(("change", "why"), [
    ({"secret": "another-secret-entirely-0123456789"}, "not valid"),
    ({"aud": "someone-else"}, "not valid"),
    ({"exp": -60}, "expired"),
    ({"iat": 3600, "exp": 3900}, "future"),
    ({"exp": 3600}, "longer than"),
    ({"email": "not an address"}, "email"),
    ({"drop": "jti"}, "not valid"),
    ({"alg": "none"}, "not valid"),
])
def test_forged_expired_and_overlong_host_tokens_are_refused(change, why):
    world = World()
    now = int(world.clock.now().timestamp())
    claims = {"email": "ada@example.com", "aud": "incidents-portal", "iat": now, "exp": now + 300, "jti": "abcdefgh123"}
    for key in ("aud", "email"):
        if key in change:
            claims[key] = change[key]
    for key in ("iat", "exp"):
        if key in change:
            claims[key] = now + change[key]
    if "drop" in change:
        del claims[change["drop"]]
    token = (jwt.encode(claims, None, algorithm="none") if change.get("alg") == "none"
             else signed(claims, change.get("secret", SECRET)))
    with pytest.raises(HostTokenRefused) as refused:
        sign_in.verify_host_token(token, rules=world.rules, now=world.clock.now())
    assert why in str(refused.value)
    assert token not in str(refused.value)


async def test_a_host_token_signs_in_once():
    world = World()
    claims = sign_in.verify_host_token(host_token(SECRET, "ada@example.com", "Ada", world.clock.now().timestamp()),
                                       rules=world.rules, now=world.clock.now())
    session_id, person = await sign_in.host_sign_in(claims, tokens=world.tokens, api_keys=world.keys,
                                                    sessions=world.sessions, rules=world.rules, clock=world.clock)
    assert person.name == "Ada" and person.role is Role.REPORTER
    with pytest.raises(HostTokenRefused):
        await sign_in.host_sign_in(claims, tokens=world.tokens, api_keys=world.keys, sessions=world.sessions,
                                   rules=world.rules, clock=world.clock)
