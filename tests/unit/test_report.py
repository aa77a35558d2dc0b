"""Redaction of request-hook fields and the rate-limited stderr reporter."""

from __future__ import annotations

import pytest

from threaded_logging._report import Reporter
from threaded_logging.hooks._fields import REDACTED, describe_error, redact, split_url


class TestRedaction:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("GET https://s3.amazonaws.com/b?X-Amz-Signature=abc123&x=1", "abc123"),
            ("https://user:hunter2@example.com/path", "hunter2"),
            ("headers={'Authorization': 'Bearer tok.en'}", "tok.en"),
            ("Cookie: session=deadbeef", "deadbeef"),
            ("?AWSAccessKeyId=AKIA1&Signature=sig%2B&token=t0k", "sig%2B"),
        ],
    )
    def test_secrets_are_masked(self, text: str, secret: str) -> None:
        """Signatures, URL passwords, auth headers and cookies never survive redaction."""
        out = redact(text)
        assert secret not in out and REDACTED in out

    def test_split_url_drops_user_info_and_query(self) -> None:
        """A URL becomes host[:port] and path only."""
        assert split_url("https://u:p@host:8443/a/b?token=x") == ("host:8443", "/a/b")

    def test_describe_error_is_redacted_and_bounded(self) -> None:
        """An exception's text is redacted and at most 500 characters."""
        text = describe_error(ValueError("https://h/?password=pw " + "x" * 1000))
        assert "pw " not in text and len(text) == 500 and text.startswith("ValueError: ")


class TestReporter:
    def test_same_key_is_held_back_then_counted(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Lines with one key print once per interval; the next says how many were held back."""
        report = Reporter("dest", interval_s=3600)
        assert report("k", "first") is True
        assert report("k", "second") is False and report("k", "third") is False
        assert report("other", "else") is True
        assert report("k", "forced", force=True) is True
        err = capsys.readouterr().err.splitlines()
        assert err == ["threaded_logging: dest: first", "threaded_logging: dest: else",
                       "threaded_logging: dest: forced (2 similar message(s) held back)"]
