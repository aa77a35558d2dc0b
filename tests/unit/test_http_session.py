"""The HTTP transport's session: the environment is read once, not per request."""

from __future__ import annotations

import pytest

from threaded_logging._schema import Schema
from threaded_logging.formats.jsonlines import NdjsonFormat
from threaded_logging.transports.http import HttpTransport


def transport(endpoint: str, verify: object = True) -> HttpTransport:
    return HttpTransport(endpoint, "POST", NdjsonFormat(Schema()), verify=verify)  # type: ignore[arg-type]


class TestSession:
    def test_environment_is_read_once_into_the_session(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Proxies and the CA bundle come from the environment when the session is made; requests stops looking."""
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca/bundle.pem")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        secure = transport("https://logs.invalid/in")
        session = secure._get_session()
        assert session.trust_env is False and session.proxies.get("https") == "http://proxy.invalid:3128"
        assert secure._send_verify == "/etc/ca/bundle.pem"
        secure.close()

    def test_given_ca_and_plain_http_keep_their_verify(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A CA given to the handler wins over the environment's; plain http needs none."""
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca/bundle.pem")
        mine = transport("https://logs.invalid/in", verify="/my/ca.pem")
        mine._get_session()
        assert mine._send_verify == "/my/ca.pem"
        plain = transport("http://logs.invalid/in")
        plain._get_session()
        assert plain._send_verify is True
        mine.close()
        plain.close()
