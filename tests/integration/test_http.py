"""ThreadedHttpHandler against real loopback HTTP servers."""

from __future__ import annotations

import logging
import logging.handlers
import ssl
import threading
from pathlib import Path

import pytest

from threaded_logging import ThreadedHttpHandler
from threaded_logging.cli.collector import Collector

from ..helpers import SLACK_S, log_from_threads, make_logger, wait_for
from .servers import Scripted, free_port, make_certificate, wrap_tls

VARIANTS = [
    pytest.param({"method": "GET"}, id="GET"),
    pytest.param({"method": "POST"}, id="POST-ndjson"),
    pytest.param({"method": "POST", "format": "json"}, id="POST-json"),
    pytest.param({"method": "POST", "format": "form"}, id="POST-form"),
    pytest.param({"method": "POST", "compress": True}, id="POST-ndjson-gzip"),
    pytest.param({"method": "POST", "format": "json", "compress": 1}, id="POST-json-gzip"),
]


class TestDelivery:
    @pytest.mark.parametrize("kwargs", VARIANTS)
    def test_every_method_and_format_arrives_complete_in_order(self, collector: Collector, kwargs: dict) -> None:
        """Each method/format/compression delivers every record once, in order."""
        handler = ThreadedHttpHandler(collector.address, "/log", flush_interval=20, batch_size=50, **kwargs)
        logger = make_logger("http.variants", handler)
        for i in range(120):
            logger.info("n=%d", i, extra={"user": "u"})
        assert handler.flush(timeout=20)
        key = "msg" if kwargs.get("method") == "GET" or kwargs.get("format") == "form" else "message"
        assert [r[key] for r in collector.records] == [f"n={i}" for i in range(120)]
        assert all(r["user"] == "u" for r in collector.records)
        stats = handler.stats()
        assert (stats["sent"], stats["failed"], stats["dropped"]) == (120, 0, 0)

    # the stdlib HTTPHandler itself leaves its socket for the garbage collector
    @pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
    def test_get_sends_the_stdlib_httphandler_fields(self, collector: Collector) -> None:
        """An endpoint written for logging.handlers.HTTPHandler receives the same fields."""
        stdlib = logging.handlers.HTTPHandler(collector.address, "/log", method="GET")
        make_logger("http.stdlib", stdlib).warning("hello %s", "there")
        ours = ThreadedHttpHandler(collector.address, "/log", flush_interval=10)
        make_logger("http.ours", ours).warning("hello %s", "there")
        assert ours.flush(timeout=5)
        theirs, mine = collector.records
        assert set(theirs) <= set(mine)
        for key in ("levelname", "levelno", "pathname", "filename", "funcName", "module", "process", "threadName"):
            assert mine[key] == theirs[key], key
        assert (theirs["msg"], mine["msg"]) == ("hello %s", "hello there")
        assert mine["message"] == "hello there"

    def test_ndjson_records_follow_the_schema(self, collector: Collector) -> None:
        """POST bodies carry the JSON schema with extras and static fields."""
        handler = ThreadedHttpHandler(collector.address, "/", method="POST", flush_interval=10, static_fields={"app": "a1"})
        make_logger("http.schema", handler).error("boom", extra={"order": 7})
        assert handler.flush(timeout=5)
        (record,) = collector.records
        assert (record["level"], record["logger"], record["message"]) == ("ERROR", "http.schema", "boom")
        assert (record["order"], record["app"]) == (7, "a1")
        assert record["timestamp"].endswith("Z")

    def test_huge_record_is_truncated_with_marker(self, collector: Collector) -> None:
        """A 5 MB message over max_batch_bytes arrives cut, with 'truncated', next to its neighbours."""
        handler = ThreadedHttpHandler(collector.address, "/", method="POST", flush_interval=10)
        logger = make_logger("http.huge", handler)
        logger.info("before")
        logger.info("x" * (5 * 1024 * 1024))
        logger.info("after")
        assert handler.flush(timeout=10)
        before, huge, after = collector.records
        assert (before["message"], after["message"]) == ("before", "after")
        assert huge["truncated"] == 5 * 1024 * 1024
        assert huge["message"].endswith("...[truncated]") and len(huge["message"]) < 1024 * 1024

    def test_invalid_unicode_and_bad_args_do_not_break_a_batch(self, collector: Collector) -> None:
        """Lone surrogates, NUL and unformattable args travel alongside good records."""
        handler = ThreadedHttpHandler(collector.address, "/", method="POST", flush_interval=10)
        logger = make_logger("http.bad", handler)
        logger.info("ok")
        logger.info("bad \udce9 \x00")
        logger.info("%d", "x")
        assert handler.flush(timeout=5)
        ok, bad, unformattable = collector.records
        assert bad["message"] == "bad \ufffd \x00"
        assert unformattable["format_error"].startswith("TypeError")
        assert handler.stats()["sent"] == 3


class TestFailures:
    def test_500_three_times_then_200_delivers_once(self, scripted: Scripted) -> None:
        """Three 500s are retried; the batch arrives exactly once and retried counts 3."""
        scripted.script = [500, 500, 500]
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10)
        logger = make_logger("http.500", handler)
        for i in range(10):
            logger.info("n=%d", i)
        assert handler.flush(timeout=20)
        assert [r["message"] for r in scripted.records] == [f"n={i}" for i in range(10)]
        stats = handler.stats()
        assert (stats["retried"], stats["sent"], stats["batches"]) == (3, 10, 1)

    def test_429_retry_after_is_honoured(self, scripted: Scripted) -> None:
        """After 429 with Retry-After: 1 the next attempt waits about a second."""
        scripted.script = [(429, {"Retry-After": "1"})]
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10)
        make_logger("http.429", handler).info("x")
        assert handler.flush(timeout=10)
        (first, _), (second, _) = scripted.attempts
        assert 1.0 <= second - first <= 1.0 + SLACK_S, "the second attempt waited for Retry-After"
        assert len(scripted.records) == 1

    def test_413_splits_until_it_fits(self, scripted: Scripted) -> None:
        """Bodies the server refuses with 413 are halved until each fits; order kept."""
        scripted.max_body = 2500
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10, batch_size=64)
        logger = make_logger("http.413", handler)
        for i in range(40):
            logger.info("n=%d %s", i, "p" * 100)
        assert handler.flush(timeout=20)
        assert [r["message"].split()[0] for r in scripted.records] == [f"n={i}" for i in range(40)]
        assert max(size for _, size in scripted.attempts if size <= 2500) <= 2500
        assert handler.stats()["failed"] == 0

    def test_400_is_final_and_counted(self, scripted: Scripted, capsys: pytest.CaptureFixture[str]) -> None:
        """A 400 is not retried: the records count as failed, stderr says why once."""
        scripted.script = [400]
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10)
        logger = make_logger("http.400", handler)
        logger.info("a")
        logger.info("b")
        assert handler.flush(timeout=5) is False
        stats = handler.stats()
        assert (stats["failed"], stats["retried"], stats["sent"]) == (2, 0, 0)
        assert "HTTP 400" in stats["last_error"]
        err = capsys.readouterr().err
        assert err.count("HTTP 400") == 1
        logger.info("c")
        assert handler.flush(timeout=5)
        assert [r["message"] for r in scripted.records] == ["c"]

    def test_hanging_server_never_slows_the_caller(self, scripted: Scripted) -> None:
        """While the server holds its reply, 2,000 calls all return; the records arrive once it recovers."""
        scripted.script = ["hang"]
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10, timeout=30, capacity=5000)
        logger = make_logger("http.hang", handler)
        logger.info("first")
        assert wait_for(lambda: scripted.attempts, timeout=5)
        done = threading.Event()

        def log() -> None:
            for i in range(2000):
                logger.info("n=%d", i)
            done.set()

        threading.Thread(target=log).start()
        assert done.wait(5 * SLACK_S), "a call waited on the server, which holds its reply for 60 s"
        assert not scripted.release.is_set() and handler.stats()["sent"] == 0
        scripted.release.set()
        assert handler.flush(timeout=20)
        assert [r["message"] for r in scripted.records] == ["first"] + [f"n={i}" for i in range(2000)]

    def test_server_down_at_start_then_up(self) -> None:
        """Nothing is lost when the server comes up after several failed attempts."""
        port = free_port()
        handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", flush_interval=10)
        logger = make_logger("http.down", handler)
        for i in range(100):
            logger.info("n=%d", i)
        assert wait_for(lambda: handler.stats()["retried"] >= 3, timeout=20), "an outage of three attempts"
        server = Scripted(port=port).start()
        try:
            assert handler.flush(timeout=30)
            assert [r["message"] for r in server.records] == [f"n={i}" for i in range(100)]
            assert handler.stats()["retried"] >= 3
        finally:
            server.stop()

    def test_connection_reset_mid_request_is_retried(self, scripted: Scripted) -> None:
        """A connection closed without a reply is retried and delivers once."""
        scripted.script = ["reset"]
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10)
        make_logger("http.reset", handler).info("survivor")
        assert handler.flush(timeout=10)
        assert [r["message"] for r in scripted.records] == ["survivor"]
        assert handler.stats()["retried"] == 1

    def test_gives_up_after_max_retry_time(self, scripted: Scripted) -> None:
        """A server that keeps failing: the batch counts as failed after max_retry_time."""
        scripted.script = [503] * 1000
        handler = ThreadedHttpHandler(scripted.address, "/", method="POST", flush_interval=10, max_retry_time=1)
        make_logger("http.giveup", handler).info("doomed")
        assert wait_for(lambda: handler.stats()["failed"] == 1, timeout=10)
        assert "gave up after" in handler.stats()["last_error"] and "in 1 s (max_retry_time)" in handler.stats()["last_error"]


class TestSecurity:
    def test_self_signed_refused_by_default_accepted_with_ca(self, tmp_path: Path) -> None:
        """TLS verification is on: an unknown CA fails; giving the CA (path or context) works."""
        cert, key = make_certificate(tmp_path)
        server = Scripted()
        wrap_tls(server, cert, key)
        server.start()
        try:
            refused = ThreadedHttpHandler(server.address, "/", method="POST", secure=True, flush_interval=10)
            make_logger("tls.refused", refused).info("nope")
            assert refused.flush(timeout=10) is False
            assert "CERTIFICATE_VERIFY_FAILED" in refused.stats()["last_error"]
            assert refused.stats()["failed"] == 1

            by_path = ThreadedHttpHandler(server.address, "/", method="POST", secure=True, verify=str(cert), flush_interval=10)
            make_logger("tls.path", by_path).info("by path")
            context = ssl.create_default_context(cafile=str(cert))
            by_context = ThreadedHttpHandler(server.address, "/", "POST", True, None, context, flush_interval=10)
            make_logger("tls.context", by_context).info("by context")
            assert by_path.flush(timeout=10) and by_context.flush(timeout=10)
            assert sorted(r["message"] for r in server.records) == ["by context", "by path"]
        finally:
            server.stop()

    def test_credentials_refused_over_plain_http(self) -> None:
        """Basic-auth credentials over http are refused unless explicitly allowed."""
        with pytest.raises(ValueError, match="credentials over plain http"):
            ThreadedHttpHandler("127.0.0.1:1", "/", credentials=("u", "p"))

    def test_credentials_sent_as_basic_auth_when_allowed(self, scripted: Scripted) -> None:
        """Allowed credentials arrive as an Authorization: Basic header."""
        handler = ThreadedHttpHandler(scripted.address, "/", "POST", credentials=("u", "p"),
                                      allow_insecure_credentials=True, flush_interval=10)
        make_logger("http.auth", handler).info("x")
        assert handler.flush(timeout=5)
        assert scripted.headers_seen[0]["Authorization"] == "Basic dTpw"

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"host": "http://x", "url": "/"}, "without scheme"),
            ({"host": "x", "url": "log"}, "url must be a path"),
            ({"host": "x", "url": "/", "method": "PUT"}, "method must be"),
            ({"host": "x", "url": "/", "format": "xml"}, "format must be"),
            ({"host": "x", "url": "/", "compress": 12}, "compress must be"),
            ({"host": "x", "url": "/", "timeout": 0}, "timeout must be"),
        ],
    )
    def test_bad_arguments_are_named(self, kwargs: dict, fragment: str) -> None:
        """Constructor arguments are validated with the option named."""
        with pytest.raises(ValueError, match=fragment):
            ThreadedHttpHandler(**kwargs)


class TestConcurrency:
    def test_eight_threads_exactly_once_through_the_collector(self, collector: Collector) -> None:
        """8 threads x 1,000 records: each arrives once at the collector."""
        handler = ThreadedHttpHandler(collector.address, "/", method="POST", flush_interval=20, capacity=20_000)
        log_from_threads(make_logger("http.threads", handler), threads=8, per_thread=1000)
        assert handler.flush(timeout=30)
        messages = [r["message"] for r in collector.records]
        assert len(messages) == 8000 == len(set(messages))


class TestSecretsInTheUrl:
    def test_a_token_in_the_query_never_reaches_stderr_or_last_error(
            self, scripted: Scripted, capsys: pytest.CaptureFixture[str]) -> None:
        """A token passed in the URL's query is masked in every message, and still sent."""
        scripted.script = [400]
        handler = ThreadedHttpHandler(scripted.address, "/ingest?token=S3CRET&region=eu", method="POST",
                                      flush_interval=10)
        make_logger("http.token", handler).info("x")
        assert handler.flush(timeout=10) is False
        text = capsys.readouterr().err + str(handler.stats()["last_error"]) + repr(handler) + handler.identity()
        assert "S3CRET" not in text and "token=***" in text
        assert scripted.bodies[-1][0].endswith("token=S3CRET&region=eu"), "the request itself keeps it"

    def test_handlers_differing_only_in_a_secret_have_distinct_spool_identities(self) -> None:
        """Two endpoints that differ only in the token never share a spool (records go where they were meant to)."""
        first = ThreadedHttpHandler("h:1", "/?token=a", method="POST")
        second = ThreadedHttpHandler("h:1", "/?token=b", method="POST")
        assert first.describe() == second.describe() and first.identity() != second.identity()
        assert "token=a" not in first.identity()
