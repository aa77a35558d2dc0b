"""Every configuration example in the docs, executed against real servers; check-config."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from threaded_logging import ThreadedHandler
from threaded_logging.cli.check_config import check
from threaded_logging.cli.collector import Collector
from threaded_logging.cli.main import main

from .sqs_helpers import Consumer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def localized(name: str, collector: Collector, tmp_path: Path) -> Path:
    """The example with its collector address pointed at the test's collector."""
    text = (EXAMPLES / name).read_text().replace("127.0.0.1:8514", collector.address)
    path = tmp_path / name
    path.write_text(text)
    return path


def threaded_handlers() -> List[ThreadedHandler]:
    found = []
    for logger in [logging.getLogger()] + [l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)]:
        found += [h for h in logger.handlers if isinstance(h, ThreadedHandler) and h not in found]
    return found


def flush_all() -> bool:
    return all(h.flush(timeout=20) for h in threaded_handlers())


@pytest.fixture
def sqs_queue(moto_endpoint: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The examples' queue 'app-logs' on moto, which boto3 reaches through AWS_ENDPOINT_URL_SQS."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    client = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = client.create_queue(QueueName="app-logs")["QueueUrl"]
    client.delete_queue(QueueUrl=url)  # start empty: moto allows the name again at once
    url = client.create_queue(QueueName="app-logs")["QueueUrl"]
    yield Consumer(client, url)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.disabled = False


class TestExamples:
    def test_dictconfig_python(self, collector: Collector, tmp_path: Path) -> None:
        """docs/examples/dictconfig.py ships INFO to the collector and ERROR to a JSON file."""
        runpy.run_path(str(localized("dictconfig.py", collector, tmp_path)))
        logging.getLogger("billing").info("invoice %d sent", 12)
        logging.getLogger("billing").error("card declined")
        assert flush_all()
        assert [(r["message"], r["app"], r["env"]) for r in collector.records] == [
            ("invoice 12 sent", "billing", "prod"), ("card declined", "billing", "prod")]
        (line,) = (tmp_path / "errors.jsonl").read_text().splitlines()
        assert json.loads(line)["message"] == "card declined" and json.loads(line)["app"] == "billing"

    def test_dictconfig_json(self, collector: Collector, tmp_path: Path) -> None:
        """docs/examples/dictconfig.json ships records to the collector."""
        logging.config.dictConfig(json.loads(localized("dictconfig.json", collector, tmp_path).read_text()))
        logging.getLogger("x").warning("from json config")
        assert flush_all()
        assert [(r["message"], r["app"]) for r in collector.records] == [("from json config", "billing")]

    def test_dictconfig_yaml(self, collector: Collector, sqs_queue: Consumer, tmp_path: Path) -> None:
        """docs/examples/dictconfig.yaml ships to the collector, and WARNING and up to SQS."""
        import yaml

        logging.config.dictConfig(yaml.safe_load(localized("dictconfig.yaml", collector, tmp_path).read_text()))
        logging.getLogger("y").info("info only to http")
        logging.getLogger("y").warning("warning to both")
        assert flush_all()
        assert [r["message"] for r in collector.records] == ["info only to http", "warning to both"]
        assert [r["message"] for r in sqs_queue.collect(1)] == ["warning to both"]

    def test_logging_ini(self, collector: Collector, tmp_path: Path) -> None:
        """docs/examples/logging.ini ships to the collector and writes app.log through a wrapped FileHandler."""
        logging.config.fileConfig(str(localized("logging.ini", collector, tmp_path)), disable_existing_loggers=False)
        logging.getLogger("z").info("from ini")
        assert flush_all()
        assert [(r["message"], r["app"]) for r in collector.records] == [("from ini", "billing")]
        assert (tmp_path / "app.log").read_text().strip().endswith("INFO z from ini")

    @pytest.mark.skipif(sys.version_info >= (3, 12), reason="boto 2 does not import on Python >= 3.12")
    def test_boto_config_ships_after_import_boto(self, sqs_queue: Consumer, moto_endpoint: str, tmp_path: Path) -> None:
        """With BOTO_CONFIG set, `import boto` configures logging: app records reach SQS,
        request records land in request_log.csv."""
        config = tmp_path / "boto.cfg"
        config.write_text((EXAMPLES / "boto.cfg").read_text())
        port = moto_endpoint.rsplit(":", 1)[1]
        script = f"""
import logging, boto, boto.ec2
from threaded_logging import RequestLogHook
logging.getLogger("app").info("configured by boto")
conn = boto.ec2.connect_to_region("us-west-2", is_secure=False, proxy="127.0.0.1", proxy_port={port})
conn.set_request_hook(RequestLogHook())   # the one line boto's config cannot express
conn.get_all_volumes()
"""
        env = {**os.environ, "BOTO_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        (record,) = sqs_queue.collect(1)
        assert (record["message"], record["revision"], record["logger"]) == ("configured by boto", 7, "app")
        (line,) = (tmp_path / "request_log.csv").read_text().splitlines()
        assert line.endswith("'DescribeVolumes'") and "'200'" in line


class TestCheckConfig:
    @pytest.mark.parametrize("name", ["logging.ini", "boto.cfg", "dictconfig.json", "dictconfig.yaml"])
    def test_docs_examples_pass(self, name: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Every configuration file in the docs passes check-config with exit code 0."""
        assert main(["check-config", str(EXAMPLES / name)]) == 0
        out = capsys.readouterr().out
        assert "OK: no problems found" in out
        assert "wJalrXUtnFEMI" not in out and "AKIDEXAMPLE" not in out

    @pytest.mark.parametrize(
        ("section", "expected"),
        [
            ("class=threaded_logging.ThreadedHtpHandler\nargs=()",
             "unknown handler class 'threaded_logging.ThreadedHtpHandler' -- did you mean 'threaded_logging.ThreadedHttpHandler'?"),
            ("class=threaded_logging.ThreadedHttpHandler\nargs=('h:1', '/')\nkwargs={'flush_intervall': 5}",
             "unknown option 'flush_intervall' -- did you mean 'flush_interval'?"),
            ("class=threaded_logging.ThreadedHttpHandler\nargs=('h:1', '/')\nkwargs={'capacity': 'lots'}",
             "TypeError: capacity must be a number, got 'lots'"),
            ("class=threaded_logging.ThreadedAwsHandler\nargs=('AKIDSECRET1', 'hunter2hunter2')",
             "missing a required argument: 'queue_name'"),
            ("class=threaded_logging.ThreadedSqsHandler\nkwargs={'queue_name': 'q', 'endpoint_url': 'htp://127.0.0.1:4566'}",
             "endpoint_url: URL scheme 'htp' looks wrong"),
            ("class=threaded_logging.ThreadedHttpHandler\nargs=('https://h', '/')",
             "host must be 'host' or 'host:port' without scheme"),
            ("class=threaded_logging.ThreadedHttpHandler\nargs=('h:1', '/'\n",
             "args: not a valid Python expression"),
        ],
    )
    def test_each_error_class_is_reported(self, tmp_path: Path, section: str, expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
        """Each kind of mistake is reported with its section and a hint, exit code 1, no secrets."""
        path = tmp_path / "bad.ini"
        path.write_text(f"[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n"
                        f"[logger_root]\nhandlers=h\n[handler_h]\n{section}\n")
        assert main(["check-config", str(path)]) == 1
        out = capsys.readouterr().out
        assert "[handler_h]" in out and expected in out
        assert "hunter2hunter2" not in out and "AKIDSECRET1" not in out

    def test_dictconfig_problems(self, tmp_path: Path) -> None:
        """JSON dictConfig: missing version, unknown logger handler and bad option are all listed."""
        path = tmp_path / "c.json"
        path.write_text(json.dumps({
            "handlers": {"h": {"class": "threaded_logging.ThreadedHttpHandler", "host": "h:1", "url": "/", "batchsize": 3}},
            "root": {"handlers": ["h", "nope"]},
        }))
        checker, fmt = check(path)
        messages = [f"{p.where}: {p.message}" for p in checker.problems]
        assert fmt == "json"
        assert any("requires version: 1" in m for m in messages)
        assert any("handlers.h: unknown option 'batchsize'" in m for m in messages)
        assert any("handler 'nope' is not defined" in m for m in messages)

    def test_yaml_without_pyyaml_says_so(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without PyYAML a YAML file gets a clear message, not a traceback."""
        monkeypatch.setitem(sys.modules, "yaml", None)
        path = tmp_path / "c.yaml"
        path.write_text("version: 1\n")
        checker, _ = check(path)
        assert [p.message for p in checker.problems] == ["YAML needs PyYAML, which is not installed"]

    def test_builds_nothing_that_sends(self, tmp_path: Path) -> None:
        """check-config starts no worker thread and creates no spool or log file."""
        path = tmp_path / "s.json"
        path.write_text(json.dumps({"version": 1, "handlers": {
            "h": {"class": "threaded_logging.ThreadedFileHandler", "filename": str(tmp_path / "out.log"),
                  "spool_dir": str(tmp_path / "spool")}}}))
        checker, _ = check(path)
        assert checker.problems == []
        assert not (tmp_path / "out.log").exists() and not (tmp_path / "spool").exists()
