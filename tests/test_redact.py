"""Secrets never reach logs (K-2): known values and credential shapes are masked; the filter never leaks."""

from __future__ import annotations

import io
import logging

import pytest

from monitor.redact import (
    RedactingFilter,
    install_logging,
    mask_webhook_url,
    redact_text,
    redact_url,
    register_secret,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("smtp://user:hunter2pass@mail.example.com", "hunter2pass"),
        ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),
        (
            "tgram://123456789:AAHfGhjkLmnOpqRstUvwXyz0123456789abcd/42",
            "AAHfGhjkLmnOpqRstUvwXyz0123456789abcd",
        ),
        ("https://api.example.com/feed?token=sekr1t-token&x=1", "sekr1t-token"),
        ("https://api.example.com/feed?api_key=k3yk3yk3y", "k3yk3yk3y"),
    ],
)
def test_credential_shapes_are_masked(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_registered_secret_is_masked_everywhere() -> None:
    register_secret("canary-8c1f2e")
    assert "canary-8c1f2e" not in redact_text("error talking to hook canary-8c1f2e/x")


def test_redact_url_drops_userinfo_and_secret_query() -> None:
    shown = redact_url("https://bob:pw123@feeds.example.com/x.xml?key=abc&page=2")
    assert "pw123" not in shown and "bob" not in shown and "abc" not in shown
    assert "feeds.example.com/x.xml" in shown and "page=2" in shown
    assert redact_url("http://[broken") == "http://***"


def test_logging_filter_masks_messages_args_and_tracebacks() -> None:
    register_secret("tr4ceback-secret")
    stream = io.StringIO()
    install_logging(logging.DEBUG, stream=stream)
    log = logging.getLogger("test.redact")
    log.warning("sending to %s", "json://u:tr4ceback-secret@h/x")
    try:
        raise RuntimeError("failed with tr4ceback-secret inside")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    assert "tr4ceback-secret" not in out
    assert "boom" in out and "RuntimeError" in out


def test_filter_error_never_leaks() -> None:
    class Bad:
        def __str__(self) -> str:
            raise ValueError("no")

    record = logging.LogRecord("x", logging.INFO, "f", 1, "value %s", (Bad(),), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "[redaction-error]"


@pytest.mark.parametrize(
    "text",
    [
        "json://user:Qj@127.0.0.1/hook",  # password
        "json://Qj:password@127.0.0.1/hook",  # user
        "pover://Qj@apptoken",  # a service that takes its token where a user goes
        "tgram://Qj/42",  # where a host goes
        "json://127.0.0.1/hooks/Qj/x",  # a path segment
        "https://example.com/feed?edition=Qj&page=2",  # a query value
        "json://127.0.0.1/hook?+X-Api-Key=Qj",  # a header apprise sends on
        "https://example.com/feed#Qj",  # a fragment
        "https://example.com/feed?edition=Q%6a",  # percent-encoded
        "error: HTTP 401 from https://example.com/Qj/rss (retrying)",  # inside a message
    ],
)
def test_a_short_secret_is_masked_as_a_whole_part_of_a_url(text: str) -> None:
    register_secret("Qj")  # issue 12: secrets under 4 characters were never masked
    shown = redact_text(text)
    assert "Qj" not in shown and "Q%6a" not in shown and "***" in shown


def test_a_short_secret_does_not_shred_other_text() -> None:
    register_secret("Qj")
    text = "Qjx and xQj stay; so do https://example.com/Qjx/feed?edition=aQj and Qj outside a URL"
    assert redact_text(text) == text


def test_a_secret_is_masked_percent_encoded_too() -> None:
    register_secret("p@ss/w0rd!")
    assert redact_text("mailto://u:p%40ss%2Fw0rd%21@mail.example.com?to=x") == "mailto://***@mail.example.com?to=x"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://127.0.0.1:8080/hooks/abc123def", "json://127.0.0.1:8080/hooks/***"),
        ("json://127.0.0.1/hooks/abcdefghijklmnopq/x", "json://127.0.0.1/hooks/***/x"),
        ("json://127.0.0.1/api/v2/hook?method=POST", "json://127.0.0.1/api/v2/hook?method=POST"),
        (
            "json://127.0.0.1/x?method=POST&%2BAuthorization=Bearer%20abc&-token=t&:field=v",
            "json://127.0.0.1/x?method=POST&%2BAuthorization=***&-token=***&:field=v",
        ),
        ("json://[broken/x", "json://***"),
    ],
)
def test_a_webhook_url_is_shown_without_its_token(url: str, shown: str) -> None:
    assert mask_webhook_url(url) == shown
