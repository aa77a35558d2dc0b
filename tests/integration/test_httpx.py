"""log_httpx_requests with real httpx clients against loopback servers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from threaded_logging import JsonFormatter, ThreadedFileHandler, ThreadedHandler
from threaded_logging.cli.collector import Collector

from ..helpers import GatedHandler, ListHandler, make_logger
from .servers import Scripted, free_port

httpx = pytest.importorskip("httpx")
from threaded_logging import log_httpx_requests  # noqa: E402 - after the skip

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
KEYS = ("action", "method", "host", "path", "status", "duration", "size", "error", "error_detail")


def fields(handler: ListHandler) -> List[Dict[str, Any]]:
    return [{k: r.__dict__[k] for k in KEYS if k in r.__dict__} for r in handler.records]


def summary(handler: ListHandler) -> List[tuple]:
    return [(f["action"], f["status"], f["error"]) for f in fields(handler)]


@pytest.fixture
def scripted_server() -> Any:
    server = Scripted().start()
    yield server
    server.stop()


class TestSyncClient:
    def test_statuses_redirects_and_refused_connection(self, collector: Collector, scripted_server: Scripted) -> None:
        """200, a redirect (two hops), 404 and a refused connection each give one record; the
        ConnectError still reaches the caller."""
        scripted_server.script = [(302, {"Location": f"http://{collector.address}/landed"}), 404]
        target = ListHandler()
        make_logger("httpx.sync", target)
        with log_httpx_requests(httpx.Client(timeout=5), logger="httpx.sync") as client:
            ok = client.get(f"http://{collector.address}/ok?token={SECRET}&x=1")
            assert ok.status_code == 200
            assert client.get(f"http://{scripted_server.address}/go", follow_redirects=True).status_code == 200
            assert client.get(f"http://{scripted_server.address}/nope").status_code == 404
            with pytest.raises(httpx.ConnectError):
                client.get(f"http://127.0.0.1:{free_port()}/down?Signature={SECRET}")
        got = fields(target)
        assert summary(target) == [
            ("GET /ok", 200, False), ("GET /go", 302, False), ("GET /landed", 200, False),
            ("GET /nope", 404, True), ("GET /down", None, True),
        ]
        assert got[0]["host"] == collector.address and got[0]["path"] == "/ok"
        assert got[0]["size"] == len(ok.content) and got[0]["duration"] > 0
        assert got[4]["size"] is None and got[4]["duration"] > 0
        assert got[4]["error_detail"].startswith("ConnectError: ")
        assert SECRET not in repr([r.__dict__ for r in target.records])

    def test_timeout_is_a_record_and_still_raises(self, collector: Collector) -> None:
        """A read timeout gives a record with error_detail ReadTimeout, and httpx.ReadTimeout
        reaches the caller."""
        collector.server.delay_s = 2.0  # the collector sleeps before answering a POST
        target = ListHandler()
        make_logger("httpx.timeout", target)
        with log_httpx_requests(httpx.Client(timeout=0.2), logger="httpx.timeout") as client:
            with pytest.raises(httpx.ReadTimeout):
                client.post(f"http://{collector.address}/slow", json={"message": "x"})
        (got,) = fields(target)
        assert (got["action"], got["status"], got["error"]) == ("POST /slow", None, True)
        assert got["error_detail"].startswith("ReadTimeout") and 0.15 < got["duration"] < 1.5

    def test_streamed_response_is_logged_when_closed(self, collector: Collector) -> None:
        """A streamed response is one record, made when it is closed, with the bytes read."""
        target = ListHandler()
        make_logger("httpx.stream", target)
        with log_httpx_requests(httpx.Client(timeout=5), logger="httpx.stream") as client:
            with client.stream("GET", f"http://{collector.address}/status") as response:
                assert target.records == []
                body = response.read()
        (got,) = fields(target)
        assert (got["action"], got["status"], got["size"]) == ("GET /status", 200, len(body))

    def test_registering_twice_does_not_double(self, collector: Collector) -> None:
        """log_httpx_requests twice on one client still gives one record per response."""
        target = ListHandler()
        make_logger("httpx.twice", target)
        client = log_httpx_requests(log_httpx_requests(httpx.Client(), "httpx.twice"), "httpx.twice")
        with client:
            client.get(f"http://{collector.address}/")
        assert len(target.records) == 1

    def test_an_exception_from_a_users_hook_is_not_a_transport_error(self, collector: Collector) -> None:
        """raise_for_status in the user's own hook propagates, and the response is one record."""
        target = ListHandler()
        make_logger("httpx.user_hook", target)

        def raise_for_status(response: Any) -> None:
            response.raise_for_status()

        client = httpx.Client(event_hooks={"response": [raise_for_status]})
        with log_httpx_requests(client, "httpx.user_hook"):
            with pytest.raises(httpx.HTTPStatusError):
                client.put(f"http://{collector.address}/put")
        assert summary(target) == [("PUT /put", 405, True)]

    def test_hook_never_blocks_the_request(self, collector: Collector) -> None:
        """With a threaded handler whose target blocks forever, requests still complete."""
        stuck = GatedHandler()
        handler = ThreadedHandler(stuck, flush_interval=10)
        make_logger("httpx.blocking", handler)
        try:
            with log_httpx_requests(httpx.Client(timeout=5), "httpx.blocking") as client:
                for _ in range(20):
                    assert client.get(f"http://{collector.address}/").status_code == 200
            assert handler.stats()["emitted"] == 20
        finally:
            stuck.gate.set()

    def test_not_a_client_is_refused(self) -> None:
        """Anything but an httpx client is a TypeError naming it."""
        with pytest.raises(TypeError, match="httpx.Client or httpx.AsyncClient"):
            log_httpx_requests(object())  # type: ignore[type-var]


class TestAsyncClient:
    def test_statuses_refused_connection_and_timeout(self, collector: Collector, scripted_server: Scripted) -> None:
        """With an AsyncClient, a redirect, a 404, a refused connection and a timeout each give
        records, and the exceptions reach the caller."""
        scripted_server.script = [(302, {"Location": f"http://{collector.address}/landed"}), 404]
        target = ListHandler()
        make_logger("httpx.async", target)
        refused = f"http://127.0.0.1:{free_port()}/down"

        async def main() -> int:
            async with log_httpx_requests(httpx.AsyncClient(timeout=5), logger="httpx.async") as client:
                ok = await client.get(f"http://{collector.address}/ok?password={SECRET}")
                await client.get(f"http://{scripted_server.address}/go", follow_redirects=True)
                await client.get(f"http://{scripted_server.address}/nope")
                with pytest.raises(httpx.ConnectError):
                    await client.get(refused)
                collector.server.delay_s = 2.0
                with pytest.raises(httpx.ReadTimeout):
                    await client.post(f"http://{collector.address}/slow", json={}, timeout=0.2)
                return len(ok.content)

        size = asyncio.run(main())
        got = fields(target)
        assert summary(target) == [
            ("GET /ok", 200, False), ("GET /go", 302, False), ("GET /landed", 200, False),
            ("GET /nope", 404, True), ("GET /down", None, True), ("POST /slow", None, True),
        ]
        assert got[0]["size"] == size and got[0]["duration"] > 0
        assert got[4]["error_detail"].startswith("ConnectError")
        assert got[5]["error_detail"].startswith("ReadTimeout")
        assert SECRET not in repr([r.__dict__ for r in target.records])


class TestThroughHandlers:
    def test_records_ship_to_the_collector_without_secrets(self, collector: Collector, tmp_path: Path) -> None:
        """Records made by the hook reach the collector through ThreadedHttpHandler, as JSON with
        the request's host and path, and no secret from the URL."""
        from threaded_logging import ThreadedHttpHandler

        handler = ThreadedHttpHandler(collector.address, "/logs", method="POST", flush_interval=10)
        make_logger("httpx.shipped", handler)
        with log_httpx_requests(httpx.Client(timeout=5), "httpx.shipped") as client:
            client.get(f"http://user:{SECRET}@{collector.address}/p?X-Amz-Signature={SECRET}")
            with pytest.raises(httpx.ConnectError):
                client.get(f"http://127.0.0.1:{free_port()}/down?token={SECRET}")
        assert handler.flush(timeout=10)
        shipped = [r for r in collector.records if r.get("logger") == "httpx.shipped"]
        assert [(r["action"], r["status"], r["extra_path"], r["error"]) for r in shipped] == [
            ("GET /p", 200, "/p", False), ("GET /down", None, "/down", True)]
        assert SECRET not in json.dumps(shipped)

    def test_json_file_records(self, collector: Collector, tmp_path: Path) -> None:
        """Hook records written by ThreadedFileHandler with JsonFormatter carry the fields."""
        path = tmp_path / "httpx.jsonl"
        handler = ThreadedFileHandler(str(path), flush_interval=10)
        handler.setFormatter(JsonFormatter())
        make_logger("httpx.json", handler)
        with log_httpx_requests(httpx.Client(timeout=5), "httpx.json") as client:
            client.get(f"http://{collector.address}/j")
        assert handler.flush(timeout=5)
        record = json.loads(path.read_text())
        assert (record["action"], record["status"], record["extra_host"]) == ("GET /j", 200, collector.address)


class TestLazyImport:
    def test_importing_the_package_does_not_import_httpx(self) -> None:
        """import threaded_logging (and a handler) leaves httpx unimported until the hook is used."""
        code = ("import sys, threaded_logging; threaded_logging.ThreadedHttpHandler; "
                "assert 'httpx' not in sys.modules; threaded_logging.log_httpx_requests; "
                "assert 'httpx' in sys.modules")
        root = Path(__file__).resolve().parents[2]
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              cwd=str(root))
        assert proc.returncode == 0, proc.stderr
