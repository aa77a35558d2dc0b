"""The collector: what it accepts, what it refuses, and that it keeps serving."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from threaded_logging import ThreadedHttpHandler
from threaded_logging.cli.collector import Collector
from threaded_logging.formats import format_class

from ..format_records import CREATED, make_item, make_items, schema
from ..helpers import make_logger, wait_for


def post(collector: Collector, body: bytes, content_type: str = "application/x-ndjson", **headers: str) -> requests.Response:
    return requests.post(
        f"http://{collector.address}/any/path", data=body,
        headers={"Content-Type": content_type, **headers}, timeout=5,
    )


class TestCollector:
    def test_accepts_every_body_kind(self, collector: Collector) -> None:
        """GET query, form, JSON object, JSON array, NDJSON and gzip all become records."""
        base = f"http://{collector.address}"
        assert requests.get(f"{base}/x?msg=get&levelname=INFO", timeout=5).status_code == 200
        assert post(collector, b"msg=form&x=1", "application/x-www-form-urlencoded").json() == {"accepted": 1}
        assert post(collector, b'{"message": "object"}', "application/json").status_code == 200
        assert post(collector, b'[{"message": "a1"}, {"message": "a2"}]', "application/json").json() == {"accepted": 2}
        assert post(collector, b'{"message": "n1"}\n\n{"message": "n2"}\n').json() == {"accepted": 2}
        gz = gzip.compress(b'{"message": "gz"}\n')
        assert post(collector, gz, **{"Content-Encoding": "gzip"}).status_code == 200
        names = [r.get("message") or r.get("msg") for r in collector.records]
        assert names == ["get", "form", "object", "a1", "a2", "n1", "n2", "gz"]

    def test_malformed_ndjson_gets_400_with_reason_and_server_keeps_serving(self, collector: Collector) -> None:
        """A bad line is refused with its line number; the next request is accepted."""
        bad = post(collector, b'{"message": "ok"}\n{not json\n')
        assert bad.status_code == 400 and "line 2" in bad.json()["error"]
        assert post(collector, b"[1, 2]", "application/json").status_code == 400
        assert post(collector, b"\x1f\x8bxx", **{"Content-Encoding": "gzip"}).status_code == 400
        assert post(collector, b'{"message": "after"}\n').status_code == 200
        assert [r["message"] for r in collector.records] == ["after"]
        assert collector.server.rejected == 3

    def test_oversize_bodies_get_413(self) -> None:
        """Bodies over --max-body, and gzip bodies that expand too far, get 413."""
        with Collector("127.0.0.1", 0, max_body=1000, keep=True) as small:
            assert post(small, b'{"m":"' + b"x" * 2000 + b'"}').status_code == 413
            bomb = gzip.compress(b'{"m":"' + b"x" * 20_000 + b'"}')
            assert len(bomb) < 1000
            assert post(small, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
            assert post(small, b'{"m": "fits"}').status_code == 200
            assert small.records == [{"m": "fits"}]

    def test_token_is_required_when_set(self) -> None:
        """With a token, requests without the right bearer get 401."""
        with Collector("127.0.0.1", 0, token="s3cret", keep=True) as secured:
            assert post(secured, b'{"m": 1}').status_code == 401
            assert post(secured, b'{"m": 1}', Authorization="Bearer wrong").status_code == 401
            assert post(secured, b'{"m": 2}', Authorization="Bearer s3cret").status_code == 200
            handler = ThreadedHttpHandler(secured.address, "/", method="POST", flush_interval=10,
                                          headers={"Authorization": "Bearer s3cret"})
            make_logger("collector.token", handler).info("with token")
            assert handler.flush(timeout=5)
            assert [r.get("m") or r.get("message") for r in secured.records] == [2, "with token"]

    def test_writes_one_file_per_day(self, tmp_path: Path) -> None:
        """Output goes to logs-YYYY-MM-DD.jsonl in the output directory."""
        with Collector("127.0.0.1", 0, output=str(tmp_path)) as c:
            post(c, b'{"message": "to disk"}\n')
            path = c.sink.current_path
        assert path is not None and path.name.startswith("logs-") and path.suffix == ".jsonl"
        assert [json.loads(line) for line in path.read_text().splitlines()] == [{"message": "to disk"}]

    def test_command_runs_and_stops_on_sigterm(self, tmp_path: Path) -> None:
        """`threaded-logging collect` serves, reports status, and exits 0 on SIGTERM."""
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "threaded_logging", "collect", "--port", str(port), "--output", str(tmp_path),
             "--status-interval", "0.5"],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        lines: list = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            def up() -> bool:
                try:
                    return requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
                except requests.ConnectionError:
                    return False

            assert wait_for(up, timeout=15)
            handler = ThreadedHttpHandler(f"127.0.0.1:{port}", "/", method="POST", flush_interval=10)
            make_logger("collector.cmd", handler).info("through the command")
            assert handler.flush(timeout=5)
            assert wait_for(lambda: any(" 1 records (" in line for line in lines), timeout=10), "a status line counts it"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            reader.join(5)
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == 0
        assert any("listening on http://127.0.0.1" in line for line in lines)
        assert any("stopped after" in line and "1 records received" in line for line in lines)
        files = list(tmp_path.glob("logs-*.jsonl"))
        assert [json.loads(l)["message"] for l in files[0].read_text().splitlines()] == ["through the command"]


def post_format(collector: Collector, name: str, items: list, path: str, compress: bool = False,
                **options: object) -> "tuple[requests.Response, list]":
    """Encode ``items`` with format ``name``, POST the body to ``path``; return the reply and the expected records."""
    fmt = format_class(name)(schema(env="prod"), **options)
    [request] = fmt.encode(items, 1 << 20, None)
    headers = {"Content-Type": fmt.content_type, **fmt.headers()}
    body = request.body
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    reply = requests.post(f"http://{collector.address}{path}", data=body, headers=headers, timeout=5)
    answer = fmt.read_answer(reply.status_code, reply.headers, reply.content, len(items))
    assert list(answer.delivered) == list(range(len(items))), answer
    return reply, [json.loads(json.dumps(fmt.schema.fields(item))) for item in items]


class TestDestinationFormats:
    def test_otlp_at_v1_logs(self, collector: Collector) -> None:
        """An OTLP/JSON body at /v1/logs is answered 200 with an empty partialSuccess, its records written."""
        items = make_items(3, extra={"user": "bob"})
        reply, expected = post_format(collector, "otlp", items, "/v1/logs")
        assert reply.status_code == 200 and reply.json() == {"partialSuccess": {}}
        keys = ("timestamp", "created", "level", "logger", "message", "function", "line", "path", "record_id", "user", "env")
        assert [{k: r.get(k) for k in keys} for r in collector.records] == [{k: r.get(k) for k in keys} for r in expected]

    def test_bulk_at_any_index(self, collector: Collector) -> None:
        """A _bulk body at /<index>/_bulk is answered as Elasticsearch does, one 201 item per record."""
        reply, expected = post_format(collector, "elasticsearch", make_items(2), "/logs-app/_bulk", compress=True)
        data = reply.json()
        assert reply.status_code == 200 and data["errors"] is False
        assert [(i["create"]["_index"], i["create"]["_id"], i["create"]["status"]) for i in data["items"]] == [
            ("logs-app", r["record_id"], 201) for r in expected]
        assert collector.records == expected

    def test_loki_push(self, collector: Collector) -> None:
        """A Loki push is answered 204 with no body, its lines written as records."""
        reply, expected = post_format(collector, "loki", make_items(3, name="a") + [make_item(9, name="b", created=CREATED + 1)],
                                      "/loki/api/v1/push")
        assert reply.status_code == 204 and reply.content == b""
        assert collector.records == expected

    def test_splunk_hec(self) -> None:
        """HEC envelopes at /services/collector/event are answered Success, with the Splunk token scheme accepted."""
        with Collector("127.0.0.1", 0, token="hec-token", keep=True) as secured:
            reply, expected = post_format(secured, "splunk_hec", make_items(2), "/services/collector/event", token="hec-token")
            assert reply.json() == {"text": "Success", "code": 0} and secured.records == expected
            refused = requests.post(f"http://{secured.address}/services/collector/event", data=b'{"event":"x"}',
                                    headers={"Authorization": "Splunk wrong"}, timeout=5)
            assert refused.status_code == 401
            elsewhere = requests.post(f"http://{secured.address}/x", data=b'{"m":1}', headers={"Authorization": "Splunk hec-token"}, timeout=5)
            assert elsewhere.status_code == 401  # the Splunk scheme only where HEC listens

    def test_bad_bodies_at_destination_paths(self, collector: Collector) -> None:
        """A malformed body gets 400 with the reason, a protobuf body 415; the collector keeps serving."""
        base = f"http://{collector.address}"
        bad = requests.post(f"{base}/v1/logs", data=b"{nope", headers={"Content-Type": "application/json"}, timeout=5)
        assert bad.status_code == 400 and "OTLP" in bad.json()["error"]
        proto = requests.post(f"{base}/v1/logs", data=b"\x0a\x00", headers={"Content-Type": "application/x-protobuf"}, timeout=5)
        assert proto.status_code == 415
        assert requests.post(f"{base}/x/_bulk", data=b'{"create":{}}\n', timeout=5).status_code == 400
        assert requests.post(f"{base}/services/collector/event", data=b'{"time":1}', timeout=5).status_code == 400
        assert post(collector, b'{"message": "after"}\n').status_code == 200
        assert [r["message"] for r in collector.records] == ["after"] and collector.server.rejected == 4
