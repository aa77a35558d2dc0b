"""Request hooks with real clients against loopback servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

from threaded_logging import RequestLogFormatter, RequestLogHook, RequestLogger, ThreadedFileHandler, ThreadedHandler, log_boto3_requests, log_requests
from threaded_logging.cli.collector import Collector

from ..helpers import GatedHandler, ListHandler, make_logger
from .servers import Scripted, free_port

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def fields(handler: ListHandler) -> List[Dict[str, Any]]:
    keys = ("action", "method", "host", "path", "status", "duration", "size", "error",
            "service", "region", "retries", "request_id", "error_detail")
    return [{k: r.__dict__[k] for k in keys if k in r.__dict__} for r in handler.records]


class TestRequestsHook:
    def test_statuses_redirects_and_connection_errors(self, collector: Collector) -> None:
        """200, 404, a redirect (two hops) and a refused connection each give a record."""
        server = Scripted().start()
        server.script = [(302, {"Location": f"http://{collector.address}/landed"}), 404]
        target = ListHandler()
        make_logger("hooks.requests", target)
        session = log_requests(requests.Session(), logger="hooks.requests")
        try:
            assert session.get(f"http://{collector.address}/ok?token={SECRET}", timeout=5).status_code == 200
            assert session.get(f"http://{server.address}/go", timeout=5).status_code == 200
            assert session.get(f"http://{server.address}/nope", timeout=5).status_code == 404
            with pytest.raises(requests.ConnectionError):
                session.get(f"http://127.0.0.1:{free_port()}/down?Signature={SECRET}", timeout=5)
        finally:
            server.stop()
            session.close()
        got = fields(target)
        assert [(g["action"], g["status"], g["error"]) for g in got] == [
            ("GET /ok", 200, False), ("GET /go", 302, False), ("GET /landed", 200, False),
            ("GET /nope", 404, True), ("GET /down", None, True),
        ]
        assert got[0]["host"] == collector.address and got[0]["size"] > 0 and got[0]["duration"] > 0
        assert "ConnectionError" in got[4]["error_detail"]
        assert SECRET not in repr([r.__dict__ for r in target.records])

    def test_registering_twice_does_not_double(self, collector: Collector) -> None:
        """log_requests twice on one session still gives one record per response."""
        target = ListHandler()
        make_logger("hooks.twice", target)
        session = log_requests(log_requests(requests.Session(), "hooks.twice"), "hooks.twice")
        session.get(f"http://{collector.address}/", timeout=5)
        session.close()
        assert len(target.records) == 1

    def test_hook_never_blocks_the_request(self, collector: Collector) -> None:
        """With a threaded handler whose target blocks forever, requests still complete."""
        stuck = GatedHandler()
        handler = ThreadedHandler(stuck, flush_interval=10)
        make_logger("hooks.blocking", handler)
        session = log_requests(requests.Session(), "hooks.blocking")
        try:
            for _ in range(20):
                assert session.get(f"http://{collector.address}/", timeout=5).status_code == 200
            assert handler.stats()["emitted"] == 20
        finally:
            stuck.gate.set()
            session.close()


class TestBoto3Hook:
    def test_sqs_and_ec2_calls_become_records(self, moto_endpoint: str, aws_env: None) -> None:
        """Each boto3 call gives one record with service, region, operation, status and size."""
        import boto3
        from botocore.exceptions import ClientError

        target = ListHandler()
        make_logger("hooks.boto3", target)
        session = log_boto3_requests(boto3.Session(region_name="us-west-2"), logger="hooks.boto3")
        sqs = session.client("sqs", endpoint_url=moto_endpoint)
        ec2 = session.client("ec2", endpoint_url=moto_endpoint)
        url = sqs.create_queue(QueueName="hooked")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hi")
        ec2.describe_volumes()
        with pytest.raises(ClientError):
            sqs.get_queue_url(QueueName="does-not-exist")
        got = fields(target)
        assert [(g["service"], g["action"], g["status"], g["error"]) for g in got] == [
            ("sqs", "CreateQueue", 200, False), ("sqs", "SendMessage", 200, False),
            ("ec2", "DescribeVolumes", 200, False), ("sqs", "GetQueueUrl", 400, True),
        ]
        assert all(g["region"] == "us-west-2" and g["duration"] > 0 and g["retries"] == 0 for g in got)
        assert all(g["size"] and g["request_id"] for g in got[:3])
        assert got[3]["error_detail"] == "AWS.SimpleQueueService.NonExistentQueue" or "NonExistentQueue" in got[3]["error_detail"]
        dump = repr([r.__dict__ for r in target.records])
        assert "testing" not in dump.replace("'testing'", "")  # no credentials anywhere
        assert "Authorization" not in dump and "Signature" not in dump

    def test_registering_on_client_twice_does_not_double(self, moto_endpoint: str, aws_env: None) -> None:
        """Registering on a client twice gives one record per call."""
        import boto3

        target = ListHandler()
        make_logger("hooks.boto3.twice", target)
        client = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
        log_boto3_requests(client, "hooks.boto3.twice")
        log_boto3_requests(client, "hooks.boto3.twice")
        client.list_queues()
        assert [r.action for r in target.records] == ["ListQueues"]

    def test_retries_counted_and_errors_without_response(self, aws_env: None) -> None:
        """A 503 then 200 is one record with retries=1; a dead endpoint gives error with no status."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import EndpointConnectionError

        server = Scripted().start()
        server.script = [503]
        target = ListHandler()
        make_logger("hooks.boto3.retry", target)
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)
        try:
            client = boto3.client("sqs", endpoint_url=f"http://{server.address}", region_name="us-east-1", config=config)
            log_boto3_requests(client, "hooks.boto3.retry")
            client.list_queues()
            dead = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
                                config=Config(retries={"max_attempts": 1}, connect_timeout=1))
            log_boto3_requests(dead, "hooks.boto3.retry")
            with pytest.raises(EndpointConnectionError):
                dead.list_queues()
        finally:
            server.stop()
        ok, failed = fields(target)
        assert (ok["action"], ok["status"], ok["retries"], ok["error"]) == ("ListQueues", 200, 1, False)
        assert (failed["status"], failed["error"]) == (None, True)
        assert "EndpointConnectionError" in failed["error_detail"]




@pytest.mark.skipif(sys.version_info >= (3, 12), reason="boto 2 does not import on Python >= 3.12")
class TestBotoHook:
    def _connection(self, moto_endpoint: str, port: int | None = None):  # type: ignore[no-untyped-def]
        import boto.ec2

        proxy_port = port or int(moto_endpoint.rsplit(":", 1)[1])
        return boto.ec2.connect_to_region(
            "us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=SECRET,
            is_secure=False, proxy="127.0.0.1", proxy_port=proxy_port,
        )

    def test_tutorial_describe_volumes(self, moto_endpoint: str, aws_env: None) -> None:
        """create_volume then get_all_volumes yields DescribeVolumes, 200, a duration and the size."""
        import boto.utils

        target = ListHandler()
        make_logger("hooks.boto", target)
        hook = RequestLogHook(logger="hooks.boto")
        assert isinstance(hook, boto.utils.RequestHook)
        conn = self._connection(moto_endpoint)
        conn.set_request_hook(hook)
        conn.create_volume(10, "us-west-2a")
        volumes = conn.get_all_volumes()
        assert volumes
        got = fields(target)
        assert [g["action"] for g in got] == ["CreateVolume", "DescribeVolumes"]
        last = got[-1]
        assert last["status"] == 200 and last["duration"] > 0 and last["size"] > 0 and last["error"] is False
        line = RequestLogFormatter().format(target.records[-1])
        parts = [p.strip().strip("'") for p in line.split(",")]
        assert parts[1:] == ["200", repr(round(last["duration"], 6)), str(last["size"]), "DescribeVolumes"]
        assert len(parts[0]) == 19
        assert SECRET not in repr([r.__dict__ for r in target.records])

    def test_error_true_without_response_is_a_record(self, aws_env: None) -> None:
        """A connection to a closed port calls the hook with error=True: a record, no crash."""
        import boto.exception

        target = ListHandler()
        make_logger("hooks.boto.error", target)
        conn = self._connection("", port=free_port())
        conn.num_retries = 0
        conn.set_request_hook(RequestLogHook(logger="hooks.boto.error"))
        with pytest.raises((OSError, boto.exception.BotoServerError)):
            conn.get_all_volumes()
        (got,) = fields(target)
        assert got["action"] == "DescribeVolumes" and got["error"] is True and got["status"] is None

    def test_request_logger_writes_the_tutorial_line(self, moto_endpoint: str, aws_env: None, tmp_path: Path) -> None:
        """RequestLogger writes boto's CSV line through a threaded file handler."""
        path = tmp_path / "request_log.csv"
        logger = RequestLogger(str(path), flush_interval=10)
        conn = self._connection(moto_endpoint)
        conn.set_request_hook(logger)
        conn.get_all_volumes()
        assert logger.handler.flush(timeout=5)
        logger.close()
        (line,) = path.read_text().splitlines()
        fields_ = [p.strip().strip("'") for p in line.split(",")]
        assert fields_[1] == "200" and fields_[4] == "DescribeVolumes" and float(fields_[2]) > 0


class TestHooksThroughHandlers:
    def test_request_records_ship_as_json(self, collector: Collector, tmp_path: Path) -> None:
        """Hook records reach a JSON file with their fields and no secrets."""
        from threaded_logging import JsonFormatter

        path = tmp_path / "requests.jsonl"
        handler = ThreadedFileHandler(str(path), flush_interval=10)
        handler.setFormatter(JsonFormatter())
        make_logger("hooks.json", handler)
        session = log_requests(requests.Session(), "hooks.json")
        session.get(f"http://user:{SECRET}@{collector.address}/p?X-Amz-Signature={SECRET}", timeout=5)
        session.close()
        assert handler.flush(timeout=5)
        text = path.read_text()
        record = json.loads(text)
        assert (record["action"], record["status"], record["extra_path"]) == ("GET /p", 200, "/p")
        assert SECRET not in text
