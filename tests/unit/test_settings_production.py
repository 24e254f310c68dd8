"""Production refuses default and missing secrets, and settings errors never print a secret."""

from __future__ import annotations

import pytest

from services.escalation.settings import EscalationSettings
from services.intake.settings import IntakeSettings
from services.notifier.settings import NotifierSettings
from shared.settings import SettingsError, load_settings

GOOD = {"ENVIRONMENT": "production", "AMQP_URL": "amqp://incidents:S3cret-broker-pass@rabbit:5672/",
        "MONGODB_URL": "mongodb://incidents:S3cret-db-pass@mongo:27017/?authSource=admin",
        "MAIL_REPLY_SECRET": "S3cret-mail-reply-key-of-32-characters",
        "ACK_LINK_SECRET": "a-real-ack-link-secret-0123456789", "ONCALL_FEED_SECRET": "a-real-feed-secret-0123456789"}


def load(cls, monkeypatch, **env):
    for name, value in {**GOOD, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return load_settings(cls)


def test_production_starts_with_real_credentials(monkeypatch):
    assert load(NotifierSettings, monkeypatch).environment == "production"


@pytest.mark.parametrize(("env", "named"), [
    ({"AMQP_URL": "amqp://guest:guest@rabbit:5672/"}, "AMQP_URL"),
    ({"AMQP_URL": "amqp://rabbit:5672/"}, "AMQP_URL"),
    ({"MONGODB_URL": "mongodb://mongo:27017/"}, "MONGODB_URL"),
    ({"MONGODB_URL": "mongodb://root:changeme@mongo:27017/"}, "MONGODB_URL"),
])
def test_production_refuses_defaults_and_names_them(monkeypatch, env, named):
    with pytest.raises(SettingsError) as refused:
        load(NotifierSettings, monkeypatch, **env)
    message = str(refused.value)
    assert named in message and "production" in message
    for secret in ("guest:guest", "changeme", "S3cret"):
        assert secret not in message, "the refusal names the setting, never its value"


def test_development_keeps_working_without_secrets(monkeypatch):
    settings = load(IntakeSettings, monkeypatch, ENVIRONMENT="development", AMQP_URL="amqp://guest:guest@127.0.0.1/",
                    MONGODB_URL="mongodb://127.0.0.1:27017/")
    assert settings.environment == "development"


def test_an_invalid_setting_is_reported_without_its_value(monkeypatch):
    with pytest.raises(SettingsError) as refused:
        load(IntakeSettings, monkeypatch, MONGODB_DB="bad name with S3cret-db-pass inside")
    assert "MONGODB_DB" in str(refused.value) and "S3cret" not in str(refused.value)


@pytest.mark.parametrize(("cls", "env", "named"), [
    (IntakeSettings, {"ACK_LINK_SECRET": None}, "ACK_LINK_SECRET"),
    (NotifierSettings, {"ACK_LINK_SECRET": "dev-only-ack-link-secret"}, "ACK_LINK_SECRET"),
    (EscalationSettings, {"ONCALL_FEED_SECRET": None}, "ONCALL_FEED_SECRET"),
    (EscalationSettings, {"ONCALL_FEED_SECRET": "short"}, "ONCALL_FEED_SECRET"),
], ids=["intake ack secret", "notifier ack secret", "feed secret", "short feed secret"])
def test_production_refuses_default_link_secrets(monkeypatch, cls, env, named):
    with pytest.raises(SettingsError) as refused:
        load(cls, monkeypatch, **env)
    assert named in str(refused.value) and "dev-only" not in str(refused.value)


def test_the_movable_test_clock_is_refused_outside_tests(monkeypatch, tmp_path):
    for environment in ("production", "development"):
        with pytest.raises(SettingsError, match="TEST_CLOCK_FILE is only allowed with ENVIRONMENT=test"):
            load(EscalationSettings, monkeypatch, ENVIRONMENT=environment, TEST_CLOCK_FILE=str(tmp_path / "offset"))
    assert load(EscalationSettings, monkeypatch, ENVIRONMENT="test", TEST_CLOCK_FILE=str(tmp_path)).test_clock_file


def test_the_movable_clock_only_moves_forward(tmp_path):
    from datetime import timedelta

    from shared.clock import FileOffsetClock, SystemClock

    path = tmp_path / "offset"
    clock = FileOffsetClock(path, recheck_seconds=0)
    assert abs(clock.now() - SystemClock().now()) < timedelta(seconds=5), "no file: the system time"
    path.write_text("3600")
    assert clock.now() - SystemClock().now() > timedelta(minutes=59)
    path.write_text("60")  # never back
    assert clock.now() - SystemClock().now() > timedelta(minutes=59)
