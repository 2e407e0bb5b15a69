"""The webhook rules that need no server: outcomes, the schedule, Retry-After, addresses, signing."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from domain.webhooks import rules, signing, targets
from domain.webhooks.errors import WebhookTargetRefused
from infra.settings import Environment, WebhookSettings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, rules.Verdict.SUCCEEDED),
        (204, rules.Verdict.SUCCEEDED),
        (None, rules.Verdict.RETRY),
        (408, rules.Verdict.RETRY),
        (429, rules.Verdict.RETRY),
        (500, rules.Verdict.RETRY),
        (503, rules.Verdict.RETRY),
        (301, rules.Verdict.FAILED),
        (302, rules.Verdict.FAILED),
        (400, rules.Verdict.FAILED),
        (401, rules.Verdict.FAILED),
        (404, rules.Verdict.FAILED),
        (410, rules.Verdict.GONE),
        (100, rules.Verdict.FAILED),
    ],
)
def test_what_an_answer_means(status: int | None, verdict: rules.Verdict) -> None:
    assert rules.verdict(status) is verdict


def test_retries_follow_the_schedule_then_fail() -> None:
    schedule = [5.0, 300.0]
    first = rules.after_attempt(outcome=rules.Verdict.RETRY, tries=1, schedule=schedule, now=NOW)
    assert first == rules.Next(status="pending", next_attempt_at=NOW + timedelta(seconds=5))
    second = rules.after_attempt(outcome=rules.Verdict.RETRY, tries=2, schedule=schedule, now=NOW)
    assert second.next_attempt_at == NOW + timedelta(seconds=300)
    third = rules.after_attempt(outcome=rules.Verdict.RETRY, tries=3, schedule=schedule, now=NOW)
    assert third == rules.Next(status="failed", next_attempt_at=None)


def test_retry_after_wins_only_when_longer() -> None:
    longer = rules.after_attempt(
        outcome=rules.Verdict.RETRY, tries=1, schedule=[5.0], now=NOW, retry_after=60
    )
    assert longer.next_attempt_at == NOW + timedelta(seconds=60)
    shorter = rules.after_attempt(
        outcome=rules.Verdict.RETRY, tries=1, schedule=[5.0], now=NOW, retry_after=1
    )
    assert shorter.next_attempt_at == NOW + timedelta(seconds=5)


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert rules.retry_after_seconds("120", now=NOW) == 120
    assert rules.retry_after_seconds("Sun, 06 Dec 2026 12:01:00 GMT", now=NOW) == 60
    assert rules.retry_after_seconds("soon", now=NOW) is None
    assert rules.retry_after_seconds(None, now=NOW) is None


def test_failures_other_than_retryable_end_at_once() -> None:
    for outcome in (rules.Verdict.FAILED, rules.Verdict.GONE):
        assert rules.after_attempt(outcome=outcome, tries=1, schedule=[5.0], now=NOW).status == (
            "failed"
        )


def test_the_schedule_setting_reads_units() -> None:
    settings = WebhookSettings(retry_schedule="5s,5m,30m,2h,1d,0.5")
    assert settings.retry_schedule == [5, 300, 1800, 7200, 86400, 0.5]
    assert WebhookSettings().retry_schedule == [5, 300, 1800, 7200, 18000, 36000, 36000]


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address judged, never bound
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "reserved"),
        ("192.0.2.1", "private"),  # documentation range: private to Python
        ("2001:db8::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_addresses_that_may_not_receive_webhooks(address: str, rule: str) -> None:
    found = targets.address_rule(ipaddress.ip_address(address))
    assert found is not None
    assert rule in found


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_may(address: str) -> None:
    """Judged only: nothing is sent to them."""
    assert targets.address_rule(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "environment", "allow_http", "refused"),
    [
        ("http://8.8.8.8/x", Environment.PRODUCTION, False, "https"),
        ("http://8.8.8.8/x", Environment.PRODUCTION, True, None),
        ("http://8.8.8.8/x", Environment.DEVELOPMENT, False, None),
        ("https://8.8.8.8/x", Environment.PRODUCTION, False, None),
        ("ftp://8.8.8.8/x", Environment.DEVELOPMENT, False, "http"),
        ("https://u:p@8.8.8.8/x", Environment.DEVELOPMENT, False, "credentials"),
        ("https:///x", Environment.DEVELOPMENT, False, "host"),
        ("https://8.8.8.8:99999/x", Environment.DEVELOPMENT, False, "not valid"),
    ],
)
def test_url_rules(
    url: str, environment: Environment, allow_http: bool, refused: str | None
) -> None:
    settings = WebhookSettings(allow_http=allow_http)
    if refused is None:
        targets.check_url(url, settings, environment)
    else:
        with pytest.raises(WebhookTargetRefused, match=refused):
            targets.check_url(url, settings, environment)


def test_private_targets_are_refused_in_production_settings() -> None:
    from infra.settings import AppSettings, Settings

    with pytest.raises(ValueError, match="WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        Settings(
            app=AppSettings(environment=Environment.PRODUCTION),
            webhooks=WebhookSettings(allow_private_targets=True),
        )


def test_signatures_verify_with_the_standard_library_for_each_secret() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"order.created"}'
    timestamp = int(NOW.timestamp())
    header = signing.sign(secrets_=[new, old], message_id="msg_1", timestamp=timestamp, body=body)
    assert header.count("v1,") == 2
    for secret in (old, new):
        expected = Webhook(secret).sign("msg_1", NOW, body.decode())
        assert expected in header.split(" ")
