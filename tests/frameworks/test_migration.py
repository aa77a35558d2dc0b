"""The migration examples in docs/migration.rst, run: each replacement next to what it replaces."""

from __future__ import annotations

import io
import logging
import runpy
import sys
import unittest
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from threaded_logging import ThreadedHttpHandler
from threaded_logging.cli.collector import Collector

from ..helpers import make_logger, wait_for
from .support import EXAMPLES

# What a stdlib receiver sees that differs by nature between two records.
VOLATILE = {"created", "msecs", "relativeCreated", "thread", "taskName"}


def example(name: str) -> Dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name))


def log_one(logger: logging.Logger) -> None:
    logger.info("order %s paid", 1234)


class TestFromHTTPHandler:
    def test_get_and_form_post_deliver_what_the_stdlib_delivers(self, collector: Collector) -> None:
        """The replacements of HTTPHandler's GET and POST give a form-reading receiver every field
        the stdlib sends, with the same values, except msg (already formatted) and args (empty)."""
        migrate = example("migrate_httphandler.py")
        logger = make_logger("orders", logging.NullHandler())
        received: List[List[Dict[str, Any]]] = []
        for build in (migrate["before"], migrate["after"]):
            start = len(collector.records)
            handlers = build(collector.address)
            logger.handlers[:] = handlers
            with warnings.catch_warnings():
                # the stdlib's HTTPHandler leaves each connection to the garbage collector
                warnings.simplefilter("ignore", ResourceWarning)
                log_one(logger)
            for handler in handlers:
                if isinstance(handler, ThreadedHttpHandler):
                    assert handler.flush(timeout=10)
                handler.close()
            assert wait_for(lambda want=start + 2: len(collector.records) == want, 10)
            received.append(collector.records[start:])
        for stdlib, ours in zip(*received):
            assert set(stdlib) <= set(ours)
            assert {k: v for k, v in ours.items() if k in stdlib and k not in VOLATILE | {"msg", "args"}} == {
                k: v for k, v in stdlib.items() if k not in VOLATILE | {"msg", "args"}}
            assert (stdlib["msg"], stdlib["args"]) == ("order %s paid", "(1234,)")
            assert (ours["msg"], ours["message"], ours["args"]) == ("order 1234 paid", "order 1234 paid", "None")

    def test_cpythons_own_httphandler_test_passes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """CPython's test.test_logging.HTTPHandlerTest passes with ThreadedHttpHandler(...,
        format="form", allow_insecure_credentials=True) in place of HTTPHandler (GET and POST,
        http and https, basic auth)."""
        try:
            from test import test_logging
        except ImportError:  # e.g. Debian's python3 without libpython3-testsuite
            pytest.skip("CPython's test suite (test.test_logging) is not installed")
        monkeypatch.setattr(logging.handlers, "HTTPHandler", StdlibShaped)
        monkeypatch.setattr(logging.getLogger(), "handlers", [])  # its setUp wants a bare root
        suite = unittest.defaultTestLoader.loadTestsFromName("test_output", test_logging.HTTPHandlerTest)
        output = io.StringIO()
        result = unittest.TextTestRunner(stream=output, verbosity=2).run(suite)
        assert result.testsRun == 1 and result.wasSuccessful(), output.getvalue()
        assert StdlibShaped.delivered == 4  # GET and POST, over http and https


class StdlibShaped(ThreadedHttpHandler):
    """HTTPHandler's constructor, building ThreadedHttpHandler(..., format="form",
    allow_insecure_credentials=True); emit waits for delivery, as the stdlib's does, so the
    test's receiver has the request when the logging call returns."""

    delivered = 0

    def __init__(self, host: str, url: str, method: str = "GET", secure: bool = False,
                 credentials: Optional[Tuple[str, str]] = None, context: Any = None) -> None:
        super().__init__(host, url, method, secure, credentials, context, format="form",
                         allow_insecure_credentials=True)

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if self.flush(timeout=10):
            type(self).delivered += 1


class TestFromQueueListener:
    def test_the_wrapper_writes_what_the_listener_wrote(self, tmp_path: Path) -> None:
        """ThreadedHandler(FileHandler) writes the same line as QueueHandler + QueueListener,
        and needs no listener to stop."""
        migrate = example("migrate_queue.py")
        logger = make_logger("orders", logging.NullHandler())
        queue_handler, listener = migrate["before"](str(tmp_path / "before.log"))
        logger.handlers[:] = [queue_handler]
        log_one(logger)
        listener.stop()
        for handler in [queue_handler, *listener.handlers]:
            handler.close()
        wrapper = migrate["after"](str(tmp_path / "after.log"))
        logger.handlers[:] = [wrapper]
        log_one(logger)
        assert wrapper.flush(timeout=10)
        wrapper.close()
        assert (tmp_path / "after.log").read_text() == (tmp_path / "before.log").read_text() == "order 1234 paid\n"


class TestFromCamelot:
    def test_camelot_calls_work_after_the_import_changes(self, collector: Collector) -> None:
        """Camelot's positional ThreadedHttpHandler(host, url, "GET") ships the stdlib's fields,
        and ThreadedTimer(interval_ms, obj) calls obj.timeout() until stopped."""
        migrate = example("migrate_camelot.py")
        handler = migrate["after"](collector.address)
        logger = make_logger("orders", handler)
        log_one(logger)
        assert handler.flush(timeout=10)
        (record,) = collector.records
        assert (record["name"], record["msg"], record["levelname"]) == ("orders", "order 1234 paid", "INFO")
        heartbeat, timer = migrate["start_heartbeat"](10)
        try:
            assert wait_for(lambda: heartbeat.beats >= 3, 10)
        finally:
            timer.stop(timeout=5)
        assert not timer.is_alive()


class TestFromLogzio:
    def test_ndjson_with_token_and_type_in_the_query(self, collector: Collector) -> None:
        """The replacement posts the JSON schema as NDJSON to the listener URL that carries the
        token and type."""
        migrate = example("migrate_logzio.py")
        handler = migrate["after"]("TOKEN", host=collector.address, secure=False)
        logger = make_logger("orders", handler)
        log_one(logger)
        assert handler.flush(timeout=10)
        (record,) = collector.records
        assert (record["logger"], record["message"], record["level"]) == ("orders", "order 1234 paid", "INFO")
        assert handler.url == "/?token=TOKEN&type=python" and handler.body_format == "ndjson"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="boto 2 does not import on Python >= 3.12")
class TestFromBotoRequestLogger:
    def test_boto_requestlog_does_not_import(self) -> None:
        """boto's own requestlog module fails to import on Python 3, as the docs say."""
        with pytest.raises(ImportError, match="Queue"):
            import boto.requestlog  # noqa: F401

    def test_replacement_writes_the_tutorial_line(self, moto_endpoint: str, aws_env: None,
                                                  tmp_path: Path) -> None:
        """conn.set_request_hook(RequestLogger(path)) writes boto's CSV line for a call."""
        import boto.ec2

        migrate = example("migrate_boto.py")
        conn = boto.ec2.connect_to_region(
            "us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x" * 40,
            is_secure=False, proxy="127.0.0.1", proxy_port=int(moto_endpoint.rsplit(":", 1)[1]))
        request_logger = migrate["after"](conn, str(tmp_path / "request_log.csv"))
        conn.get_all_volumes()
        assert request_logger.handler.flush(timeout=10)
        request_logger.close()
        (line,) = (tmp_path / "request_log.csv").read_text().splitlines()
        parts = [p.strip().strip("'") for p in line.split(",")]
        assert parts[1] == "200" and parts[4] == "DescribeVolumes"
