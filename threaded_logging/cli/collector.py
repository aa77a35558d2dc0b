"""``threaded-logging collect``: a small receiving end for ThreadedHttpHandler.

Accepts GET query strings and POST bodies (form, JSON object or array,
NDJSON), optionally gzipped, on any path; writes one JSON object per line to a
directory (one file per UTC day) or stdout. At the paths of OTLP (``/v1/logs``),
Elasticsearch (``.../_bulk``), Loki (``/loki/api/v1/push``) and Splunk HEC
(``/services/collector/event``) it takes that destination's body and answers
as it does (see ``_receivers``). For development and small setups; at scale,
point the handlers at SQS or an existing collector's HTTP input.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from ._receivers import HEC_PATHS, BadRequest, gunzip, parse_body, receive, route, single_values

DEFAULT_PORT = 8514
DEFAULT_MAX_BODY = 10 * 1024 * 1024
#: A gzip body may expand to this many times --max-body before it is refused.
MAX_EXPANSION = 10


class Sink:
    """Where accepted records go: JSON lines in a directory (a file per UTC
    day), a stream, and optionally a list kept in memory."""

    def __init__(self, output: Optional[str], keep: bool = False) -> None:
        self._lock = threading.Lock()  # guards: _file, _day, records, counts
        self._dir = None if output is None or output == "-" else Path(output)
        self._stream: Optional[IO[bytes]] = sys.stdout.buffer if output == "-" else None
        self._file: Optional[IO[bytes]] = None
        self._day = ""
        self.records: Optional[List[Dict[str, Any]]] = [] if keep else None
        self.received = 0
        self.last_arrival: Optional[float] = None  # time.time() of the latest record
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, day: str) -> Optional[Path]:
        return None if self._dir is None else self._dir / f"logs-{day}.jsonl"

    @property
    def current_path(self) -> Optional[Path]:
        day = self._day or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        return self.path_for(day)

    def write(self, lines: List[bytes]) -> None:
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        with self._lock:
            self.received += len(lines)
            self.last_arrival = time.time()
            if self.records is not None:
                self.records.extend(json.loads(line) for line in lines)
            if self._dir is not None:
                day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
                if day != self._day or self._file is None:
                    if self._file is not None:
                        self._file.close()
                    path = self.path_for(day)
                    assert path is not None
                    self._file = open(path, "ab")  # noqa: SIM115 - kept open across requests
                    self._day = day
                self._file.write(data)
                self._file.flush()
            elif self._stream is not None:
                self._stream.write(data)
                self._stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for
    # the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True
    server: "CollectorServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # one line per minute, not per request

    def _reply(self, status: int, payload: Dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode())

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        if status != 204:  # No Content: no body, no length
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if status != 204 else b"")

    def _authorized(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        hec = urlsplit(self.path).path.rstrip("/").endswith(HEC_PATHS)  # HEC clients send "Splunk <token>"
        return given == f"Bearer {token}" or (hec and given == f"Splunk {token}")

    def _accept(self, lines: List[bytes]) -> None:
        self.server.sink.write(lines)
        self.server.count(requests=1)
        self._reply(200, {"accepted": len(lines)})

    def _reject(self, status: int, reason: str) -> None:
        self.server.count(rejected=1)
        self._reply(status, {"error": reason})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._authorized():
            self._reject(401, "missing or wrong bearer token")
            return
        query = urlsplit(self.path).query
        if not query:  # a status probe: counts, for health checks and benchmarks
            sink, server = self.server.sink, self.server
            self._reply(200, {"service": "threaded-logging collector", "accepted": 0,
                              "received": sink.received, "last_arrival": sink.last_arrival,
                              "requests": server.requests, "rejected": server.rejected})
            return
        fields = single_values(parse_qs(query, keep_blank_values=True))
        self._accept([json.dumps(fields, ensure_ascii=False).encode()])

    def do_POST(self) -> None:  # noqa: N802
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._reject(411, "Content-Length required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            self._reject(400, "bad Content-Length")
            return
        limit = self.server.max_body
        if length > limit:
            self.close_connection = True  # the body is not read
            self._reject(413, f"body of {length} bytes exceeds the limit of {limit}")
            return
        body = self.rfile.read(length)
        if self.server.delay_s:
            time.sleep(self.server.delay_s)  # --delay: a stalled collector, for testing
        if not self._authorized():
            self._reject(401, "missing or wrong bearer token")
            return
        destination = route(self.path)
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gunzip(body, limit * MAX_EXPANSION)
            if destination is not None:
                lines, status, reply, content_type = receive(destination, self.path, body, self.headers.get("Content-Type", ""))
            else:
                lines = parse_body(body, self.headers.get("Content-Type", ""))
        except BadRequest as exc:
            self._reject(exc.status, str(exc))
            return
        if destination is None:
            self._accept(lines)
            return
        self.server.sink.write(lines)
        self.server.count(requests=1)
        self._send(status, reply, content_type)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._reject(405, f"method {self.command} not allowed; use GET or POST")

    do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815


class CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], sink: Sink, max_body: int, token: Optional[str]) -> None:
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.sink = sink
        self.max_body = max_body
        self.token = token
        self.delay_s = 0.0
        self._lock = threading.Lock()  # guards: requests, rejected
        self.requests = 0
        self.rejected = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is routine, not worth a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def count(self, requests: int = 0, rejected: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.rejected += rejected


class Collector:
    """The collector as a library object: tests, the demo and benchmarks use it.

    Args:
        host: address to bind (default ``127.0.0.1``).
        port: port (default 8514; 0 picks a free one).
        output: a directory, ``"-"`` for stdout, or None (count only).
        max_body: bytes per request body at most (default 10 MiB).
        token: require ``Authorization: Bearer <token>`` (default none).
        keep: keep the parsed records in :attr:`records` (default False).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        output: Optional[str] = None,
        max_body: int = DEFAULT_MAX_BODY,
        token: Optional[str] = None,
        keep: bool = False,
    ) -> None:
        self.sink = Sink(output, keep=keep)
        self.server = CollectorServer((host, port), self.sink, max_body, token)
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port`` as ThreadedHttpHandler's ``host`` argument takes it."""
        host = str(self.server.server_address[0])
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def records(self) -> List[Dict[str, Any]]:
        return self.sink.records if self.sink.records is not None else []

    @property
    def received(self) -> int:
        return self.sink.received

    def start(self) -> "Collector":
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
            name="threaded_logging-collector", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.sink.close()

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--output", default="logs", help="directory for logs-YYYY-MM-DD.jsonl files, - for stdout, none to only count (default ./logs)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, help="largest request body in bytes; larger gets 413 (default 10 MiB)")
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument("--status-interval", type=float, default=60.0, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    output = None if args.output == "none" else args.output
    try:
        collector = Collector(args.host, args.port, output, args.max_body, args.token)
        collector.server.delay_s = args.delay
    except OSError as exc:
        print(f"threaded-logging collect: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    collector.start()
    where = {"-": "stdout", "none": "nowhere (counting only)"}.get(args.output) or str(Path(args.output).resolve())
    print(f"threaded-logging collect: listening on http://{collector.address}/ writing to {where}", file=sys.stderr, flush=True)
    started = last = time.monotonic()
    last_count = 0
    while not stop.wait(0.2):
        now = time.monotonic()
        if now - last >= args.status_interval:
            count = collector.received
            print(
                f"threaded-logging collect: {count} records ({count - last_count} in the last "
                f"{now - last:.0f} s), {collector.server.requests} requests, "
                f"{collector.server.rejected} rejected", file=sys.stderr, flush=True,
            )
            last, last_count = now, count
    collector.stop()
    print(
        f"threaded-logging collect: stopped after {time.monotonic() - started:.0f} s, "
        f"{collector.received} records received", file=sys.stderr, flush=True,
    )
    return 0
