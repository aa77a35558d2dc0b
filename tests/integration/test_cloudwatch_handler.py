"""ThreadedCloudWatchHandler end to end against moto's server: the send loop, spool, fork, exit."""

from __future__ import annotations

import inspect
import json
import logging
import logging.config
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from threaded_logging import ThreadedCloudWatchHandler, ThreadedHandler
from threaded_logging.cli.main import main as cli_main
from threaded_logging.transports._cloudwatch_events import MAX_CALL_BYTES, MAX_EVENTS_PER_CALL, TOO_NEW

from ..helpers import log_from_threads, make_logger, wait_for
from .cloudwatch_helpers import CallLog, group_names, read_events, read_records, stream_names
from .servers import free_port

pytestmark = pytest.mark.skipif(
    "transport" not in inspect.signature(ThreadedHandler.__init__).parameters,
    reason="needs the transport keyword",
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def cw_handler(logs_client: Any, log_group: str, **options: Any) -> ThreadedCloudWatchHandler:
    options.setdefault("flush_interval", 20)
    return ThreadedCloudWatchHandler(log_group, client=logs_client, **options)


def messages_in(logs_client: Any, log_group: str, handler: ThreadedCloudWatchHandler) -> List[str]:
    return [r["message"] for r in read_records(logs_client, log_group, handler.stream_name())]


def quiet_equation(stats: Dict[str, Any]) -> bool:
    return bool(stats["emitted"] == stats["sent"] + stats["dropped"] + stats["failed"] + stats["queued"] + stats["spooled"])


def run_python(source: str) -> "subprocess.Popen[str]":
    """Start a script in a fresh interpreter (stdout and stderr piped, text)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(source)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment)


def finish(proc: "subprocess.Popen[str]", timeout: float) -> Tuple[str, str]:
    """Wait for the script's end and its output; kill it if it outlives ``timeout``."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


class TestDelivery:
    def test_records_arrive_once_in_logged_order(self, logs_client: Any, log_group: str) -> None:
        """200 records reach this process's stream once each, in logged order, as schema JSON."""
        handler = cw_handler(logs_client, log_group)
        logger = make_logger("cw.order", handler)
        for i in range(200):
            logger.info("n=%d", i, extra={"order": i})
        assert handler.flush(timeout=20)
        records = read_records(logs_client, log_group, handler.stream_name())
        assert [r["order"] for r in records] == list(range(200))
        assert len({r["record_id"] for r in records}) == 200
        stats = handler.stats()
        assert (stats["sent"], stats["failed"], stats["dropped"]) == (200, 0, 0)
        assert handler.stream_name().endswith(f"-{os.getpid()}")

    def test_text_format_uses_the_formatter_set_after_construction(self, logs_client: Any, log_group: str) -> None:
        """format='text' ships the handler's formatter output, set later as dictConfig does."""
        handler = cw_handler(logs_client, log_group, format="text")
        handler.setFormatter(logging.Formatter("%(levelname)s|%(name)s|%(message)s"))
        make_logger("cw.text", handler).warning("careful %s", "now")
        assert handler.flush(timeout=20)
        events = read_events(logs_client, log_group, handler.stream_name())
        assert [e["message"] for e in events] == ["WARNING|cw.text|careful now"]

    def test_12000_records_in_calls_within_both_limits(self, logs_client: Any, log_group: str) -> None:
        """One 12,000-record batch goes out in calls of at most 10,000 events and 1 MiB; all arrive."""
        calls = CallLog(logs_client)
        handler = cw_handler(logs_client, log_group, batch_size=12_000, capacity=20_000, flush_interval=60_000)
        logger = make_logger("cw.bulk", handler)
        for i in range(12_000):
            logger.info("n=%d", i)
        assert handler.flush(timeout=120)
        assert max(p["count"] for p in calls.puts) <= MAX_EVENTS_PER_CALL
        assert max(p["bytes"] for p in calls.puts) <= MAX_CALL_BYTES
        assert sum(p["count"] for p in calls.puts) == 12_000
        assert messages_in(logs_client, log_group, handler) == [f"n={i}" for i in range(12_000)]

    def test_a_300_kib_message_is_truncated(self, logs_client: Any, log_group: str) -> None:
        """A 300 KiB message arrives cut to max_event_bytes with the marker; its neighbours intact."""
        handler = cw_handler(logs_client, log_group)
        logger = make_logger("cw.big", handler)
        logger.info("before")
        logger.info("y" * (300 * 1024))
        logger.info("after")
        assert handler.flush(timeout=20)
        records = read_records(logs_client, log_group, handler.stream_name())
        assert [r["message"][:6] for r in records] == ["before", "yyyyyy", "after"]
        assert records[1]["message"].endswith("...[truncated]") and records[1]["truncated"] == 300 * 1024
        assert handler.stats()["sent"] == 3

    def test_records_from_many_threads_are_accepted_in_time_order(self, logs_client: Any, log_group: str) -> None:
        """8 threads logging at once: every call is chronological (moto refuses others), nothing lost."""
        calls = CallLog(logs_client)
        handler = cw_handler(logs_client, log_group)
        log_from_threads(make_logger("cw.threads", handler), 8, 500)
        assert handler.flush(timeout=60)
        assert all(p["stamps"] == sorted(p["stamps"]) for p in calls.puts)
        stored = messages_in(logs_client, log_group, handler)
        assert len(stored) == 4000
        for t in range(8):  # each thread's records in its own order
            assert [m for m in stored if m.startswith(f"{t}:")] == [f"{t}:{i}" for i in range(500)]
        assert handler.stats()["failed"] == 0

    def test_the_apps_botocore_records_ship_the_workers_do_not(self, logs_client: Any, log_group: str) -> None:
        """botocore records logged by the application are shipped; the worker's own calls never feed back."""
        handler = cw_handler(logs_client, log_group)
        boto_logger = make_logger("botocore", handler)
        logging.getLogger("botocore.app").info("from the application")
        assert handler.flush(timeout=20)
        assert handler.flush(timeout=20)  # the worker made calls (and botocore DEBUG records) meanwhile
        boto_logger.handlers[:] = []
        records = read_records(logs_client, log_group, handler.stream_name())
        assert "from the application" in [r["message"] for r in records]
        assert not [r for r in records if r["thread_name"].startswith("threaded_logging.")]


class TestCreation:
    def test_dictconfig_returns_at_once_with_the_endpoint_dead(self, aws_env: None) -> None:
        """Configuring against an unreachable endpoint takes no network time; the failure shows later, counted."""
        config = {"version": 1, "disable_existing_loggers": False, "handlers": {"cw": {
            "class": "threaded_logging.ThreadedCloudWatchHandler", "log_group": "app",
            "endpoint_url": f"http://127.0.0.1:{free_port()}", "region_name": "us-east-1",
            "flush_interval": 20, "max_retry_time": 1}},
            "loggers": {"cw.dead": {"handlers": ["cw"], "level": "INFO", "propagate": False}}}
        started = time.monotonic()
        logging.config.dictConfig(config)
        assert time.monotonic() - started < 1.0
        handler = logging.getLogger("cw.dead").handlers[0]
        assert isinstance(handler, ThreadedCloudWatchHandler)
        logging.getLogger("cw.dead").info("nowhere")
        assert wait_for(lambda: handler.stats()["failed"] == 1, timeout=30)
        assert "Could not connect to the endpoint URL" in str(handler.stats()["last_error"])

    def test_group_and_stream_are_created_by_the_first_record(self, logs_client: Any, log_group: str) -> None:
        """Nothing exists after construction; the first record creates group (with retention) and stream."""
        handler = cw_handler(logs_client, log_group, retention_days=3)
        assert group_names(logs_client, log_group) == []
        make_logger("cw.lazy", handler).info("first")
        assert handler.flush(timeout=20)
        (group,) = logs_client.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
        assert group["retentionInDays"] == 3
        assert stream_names(logs_client, log_group) == [handler.stream_name()]

    def test_missing_group_without_create_group_fails_with_one_stderr_line(
            self, logs_client: Any, log_group: str, capsys: pytest.CaptureFixture[str]) -> None:
        """create_group=False: the batch fails at once (no retry), counted, one clear stderr line."""
        handler = cw_handler(logs_client, log_group, create_group=False)
        logger = make_logger("cw.nogroup", handler)
        for i in range(3):
            logger.info("lost %d", i)
        assert wait_for(lambda: handler.stats()["failed"] == 3, timeout=20)
        stats = handler.stats()
        assert stats["retried"] == 0 and stats["sent"] == 0 and quiet_equation(stats)
        err = capsys.readouterr().err
        assert err.count("does not exist and create_group is False") == 1
        assert group_names(logs_client, log_group) == []


def from_the_future(message: str) -> Any:
    """A filter that moves the record saying ``message`` 3 hours ahead (AWS rejects it as too new)."""

    def move(record: logging.LogRecord) -> bool:
        if record.getMessage() == message:
            record.created += 3 * 3600
        return True

    return move


class TestAccounting:
    def test_an_event_from_the_future_is_failed_with_its_reason(self, logs_client: Any, log_group: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
        """AWS's too-new rejection fails that record alone, its reason reported on stderr."""
        handler = cw_handler(logs_client, log_group)
        logger = make_logger("cw.future", handler)
        logger.addFilter(from_the_future("future"))
        logger.info("now")
        logger.info("future")
        assert not handler.flush(timeout=20)
        stats = handler.stats()
        assert (stats["sent"], stats["failed"]) == (1, 1)
        assert TOO_NEW in capsys.readouterr().err
        assert messages_in(logs_client, log_group, handler) == ["now"]

    def test_stats_equation_with_drops_rejections_and_deliveries(self, logs_client: Any, log_group: str) -> None:
        """Drops, an event AWS rejects and deliveries: emitted == sent + dropped + failed + queued + spooled."""
        handler = cw_handler(logs_client, log_group, capacity=50, flush_interval=60_000)
        logger = make_logger("cw.stats", handler)
        logger.addFilter(from_the_future("n=7"))
        for i in range(60):
            logger.info("n=%d", i)
        handler.flush(timeout=20)
        assert wait_for(lambda: handler.stats()["queued"] == 0, timeout=20)
        stats = handler.stats()
        assert (stats["emitted"], stats["dropped"], stats["failed"], stats["sent"]) == (60, 10, 1, 49)
        assert quiet_equation(stats)
        stored = messages_in(logs_client, log_group, handler)
        assert "n=7" not in stored and "n=8" in stored

    def test_spool_carries_records_across_an_outage(self, logs_client: Any, log_group: str, tmp_path: Path,
                                                    moto_endpoint: str) -> None:
        """A run with the endpoint down leaves its records in the spool; the next run delivers them first, in order."""
        spool = tmp_path / "spool"
        down = run_python(f"""
            import json, logging
            from threaded_logging import ThreadedCloudWatchHandler
            h = ThreadedCloudWatchHandler({log_group!r}, endpoint_url="http://127.0.0.1:{free_port()}",
                                          region_name="us-east-1", spool_dir={str(spool)!r}, flush_interval=20,
                                          shutdown_timeout=1, max_retry_time=None)
            log = logging.getLogger("app"); log.addHandler(h); log.propagate = False; log.setLevel(logging.INFO)
            for i in range(100):
                log.info("outage %d", i)
            h.close()
            print(json.dumps(h.stats()), flush=True)
            """)
        out, err = finish(down, 60)
        assert down.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["spooled"] == 100
        handler = cw_handler(logs_client, log_group, spool_dir=str(spool))  # same identity: group + template
        make_logger("app", handler).info("back")
        assert handler.flush(timeout=30)
        assert messages_in(logs_client, log_group, handler) == [f"outage {i}" for i in range(100)] + ["back"]


class TestProcesses:
    @pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
    def test_a_forked_child_writes_its_own_stream(self, logs_client: Any, log_group: str, moto_endpoint: str,
                                                  aws_env: None) -> None:
        """After fork the child ships its records to a stream named with its own pid; the parent's stay apart."""
        proc = run_python(f"""
            import json, logging, os
            from threaded_logging import ThreadedCloudWatchHandler
            h = ThreadedCloudWatchHandler({log_group!r}, endpoint_url={moto_endpoint!r}, region_name="us-east-1",
                                          flush_interval=20)
            log = logging.getLogger("fork"); log.addHandler(h); log.propagate = False; log.setLevel(logging.INFO)
            log.info("parent before")
            h.flush(timeout=20)
            pid = os.fork()
            if pid == 0:
                log.info("child")
                print(json.dumps({{"who": "child", "ok": h.flush(timeout=20), "stream": h.stream_name()}}), flush=True)
                os._exit(0)
            os.waitpid(pid, 0)
            log.info("parent after")
            print(json.dumps({{"who": "parent", "ok": h.flush(timeout=20), "stream": h.stream_name()}}), flush=True)
            """)
        out, err = finish(proc, 90)
        assert proc.returncode == 0, err
        said = {d["who"]: d for d in map(json.loads, out.splitlines())}
        assert said["child"]["ok"] and said["parent"]["ok"]
        assert said["child"]["stream"] != said["parent"]["stream"]
        assert [r["message"] for r in read_records(logs_client, log_group, said["child"]["stream"])] == ["child"]
        assert [r["message"] for r in read_records(logs_client, log_group, said["parent"]["stream"])] == [
            "parent before", "parent after"]

    def test_exit_within_shutdown_timeout_plus_one_second_with_the_endpoint_dead(self, aws_env: None) -> None:
        """With the endpoint dead the process exits within shutdown_timeout + 1 s after its last log call."""
        proc = run_python(f"""
            import logging
            from threaded_logging import ThreadedCloudWatchHandler
            h = ThreadedCloudWatchHandler("app", endpoint_url="http://127.0.0.1:{free_port()}",
                                          region_name="us-east-1", shutdown_timeout=2, max_retry_time=None)
            logging.root.addHandler(h); logging.root.setLevel(logging.INFO)
            for i in range(5000):
                logging.info("n=%d", i)
            print("logged", flush=True)
            """)
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline()
            started = time.monotonic()
        finally:
            _, err = finish(proc, 30)
        elapsed = time.monotonic() - started
        assert line.strip() == "logged", err
        assert proc.returncode == 0, err
        assert elapsed < 2 + 1 + 0.5, elapsed  # slack for a loaded machine
        assert "record(s) not delivered" in err


class TestConfiguration:
    def test_check_config_lists_the_handler(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """check-config builds the handler without touching AWS and names its destination."""
        path = tmp_path / "logging.ini"
        path.write_text("[loggers]\nkeys=root\n[handlers]\nkeys=cw\n[formatters]\nkeys=\n"
                        "[logger_root]\nhandlers=cw\n[handler_cw]\nclass=threaded_logging.ThreadedCloudWatchHandler\n"
                        "args=('app',)\nkwargs={'retention_days': 30, 'region_name': 'eu-west-1'}\n")
        assert cli_main(["check-config", str(path)]) == 0
        out = capsys.readouterr().out
        assert "handler cw: ThreadedCloudWatchHandler -> CloudWatch Logs app:{host}-{pid}" in out

    def test_fileconfig_with_plain_values_ships(self, logs_client: Any, log_group: str, moto_endpoint: str,
                                               tmp_path: Path) -> None:
        """A logging.ini (as boto's config also holds) builds the handler from args and kwargs and ships."""
        path = tmp_path / "logging.ini"
        path.write_text(
            "[loggers]\nkeys=root,app\n[handlers]\nkeys=cw\n[formatters]\nkeys=line\n"
            "[logger_root]\nhandlers=\n[logger_app]\nqualname=cw.ini\nhandlers=cw\nlevel=INFO\npropagate=0\n"
            "[formatter_line]\nformat=%(levelname)s %(message)s\n"
            f"[handler_cw]\nclass=threaded_logging.ThreadedCloudWatchHandler\nformatter=line\n"
            f"args=({log_group!r}, 'ini-{{pid}}')\nkwargs={{'endpoint_url': {moto_endpoint!r}, "
            "'region_name': 'us-east-1', 'format': 'text', 'flush_interval': 20}\n")
        logging.config.fileConfig(str(path), disable_existing_loggers=False)
        logging.getLogger("cw.ini").info("from the ini file")
        (handler,) = logging.getLogger("cw.ini").handlers
        assert isinstance(handler, ThreadedCloudWatchHandler) and handler.flush(timeout=20)
        assert handler.stream_name() == f"ini-{os.getpid()}"
        events = read_events(logs_client, log_group, handler.stream_name())
        assert [e["message"] for e in events] == ["INFO from the ini file"]

    def test_docs_example_ships_and_passes_check_config(self, moto_endpoint: str, aws_env: None, logs_client: Any,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """docs/examples/cloudwatch.json passes check-config and, applied, ships to its group."""
        assert cli_main(["check-config", str(EXAMPLES / "cloudwatch.json")]) == 0
        assert "OK: no problems found" in capsys.readouterr().out
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto_endpoint)
        config = json.loads((EXAMPLES / "cloudwatch.json").read_text())
        group = config["handlers"]["cloudwatch"]["log_group"]
        logging.config.dictConfig(config)
        try:
            logging.getLogger("billing").info("invoice %d sent", 12)
            handler = logging.getLogger().handlers[-1]
            assert isinstance(handler, ThreadedCloudWatchHandler) and handler.flush(timeout=20)
            (record,) = read_records(logs_client, group, handler.stream_name())
            assert (record["message"], record["app"]) == ("invoice 12 sent", "billing")
        finally:
            logs_client.delete_log_group(logGroupName=group)

