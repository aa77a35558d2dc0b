"""Loopback servers for the HTTP tests: a scripted one that misbehaves on cue."""

from __future__ import annotations

import datetime
import gzip
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple


class Scripted(ThreadingHTTPServer):
    """An HTTP/1.1 server whose replies follow a script.

    ``script`` holds actions consumed one per request: an int status, a
    ``(status, headers)`` pair, a ``(status, headers, body)`` triple (the
    reply builders below make the destinations' partial answers),
    ``"hang"`` (hold the reply until ``release`` is set), or ``"reset"``
    (close the connection without answering). When the script is empty
    every request gets 200. Every attempt is timed in ``attempts`` and its
    ``(path, body)`` kept in ``bodies``.

    ``records`` holds what the destination stored: at a destination's path
    (``/v1/logs``, ``.../_bulk``, ``/loki/api/v1/push``,
    ``/services/collector/event``) the body is decoded by its format and
    the records the reply says were stored are kept (the answer read by the
    format's own ``read_answer``; a duplicate is not stored twice, and a
    Loki 400 stores nothing, though Loki keeps the valid entries);
    elsewhere every record of a 2xx reply.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, max_body: Optional[int] = None) -> None:
        super().__init__(("127.0.0.1", port), _ScriptedHandler)
        self.script: List[Any] = []
        self.records: List[Dict[str, Any]] = []
        self.attempts: List[Tuple[float, int]] = []  # (monotonic time, body bytes)
        self.headers_seen: List[Dict[str, str]] = []
        self.bodies: List[Tuple[str, bytes]] = []
        self.release = threading.Event()
        self.max_body = max_body
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def start(self) -> "Scripted":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)

    def next_action(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else 200


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Scripted

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        import time

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with self.server.lock:
            self.server.attempts.append((time.monotonic(), length))
            self.server.headers_seen.append(dict(self.headers))
            self.server.bodies.append((self.path, body))
        action = self.server.next_action()
        if self.server.max_body is not None and length > self.server.max_body:
            action = 413
        if action == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if action == "hang":
            self.server.release.wait(60)
            action = 200
        status, headers, payload = _reply(action)
        stored = _stored(self.path, body, self.headers.get("Content-Type", ""), status, headers, payload)
        with self.server.lock:
            self.server.records.extend(stored)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 204:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status != 204:
            self.wfile.write(payload)

    do_GET = do_POST = _handle  # noqa: N815


def _reply(action: Any) -> Tuple[int, Dict[str, str], bytes]:
    if isinstance(action, tuple) and len(action) == 3:
        return action
    status, headers = action if isinstance(action, tuple) else (action, {})
    return status, headers, json.dumps({"status": status}).encode()


def _stored(path: str, body: bytes, content_type: str, status: int, headers: Dict[str, str], payload: bytes) -> List[Dict[str, Any]]:
    """The records a destination stores for this request and this reply."""
    from threaded_logging.cli._receivers import route

    destination = route(path)
    if destination is None:
        return _parse(body, content_type, path) if 200 <= status < 300 else []
    from threaded_logging._schema import Schema
    from threaded_logging.formats import format_class

    records = format_class(destination).decode(body)
    options = {"token": "scripted"} if destination == "splunk_hec" else {}
    answer = format_class(destination)(Schema(), **options).read_answer(status, headers, payload, len(records))
    return [records[i] for i in answer.delivered]


# -- replies of the destinations, for the script ---------------------------------

_ITEM_ERRORS = {
    409: ("version_conflict_engine_exception", "[{id}]: version conflict, document already exists (current version [1])"),
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    400: ("document_parsing_exception", "[1:120] failed to parse field [status] of type [long]"),
}


def es_items(*statuses: int, retry_after: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
    """A ``_bulk`` answer (200, errors true) whose items have these statuses, by position."""
    items = []
    for number, status in enumerate(statuses):
        result: Dict[str, Any] = {"_index": "logs", "_id": f"id-{number}", "status": status}
        if 200 <= status < 300:
            result.update({"_version": 1, "result": "created", "_seq_no": number, "_primary_term": 1})
        else:
            kind, reason = _ITEM_ERRORS.get(status, ("unavailable_shards_exception", "[logs][0] primary shard is not active"))
            result["error"] = {"type": kind, "reason": reason.format(id=f"id-{number}")}
        items.append({"create": result})
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return 200, headers, json.dumps({"took": 3, "errors": any(s >= 300 for s in statuses), "items": items}).encode()


def otlp_partial(rejected: Any, message: str = "some log records were rejected") -> Tuple[int, Dict[str, str], bytes]:
    """An OTLP partial success: 200 with ``partialSuccess.rejectedLogRecords``."""
    body = {"partialSuccess": {"rejectedLogRecords": rejected, "errorMessage": message}}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def hec_invalid(number: int, code: int = 6, text: str = "Invalid data format") -> Tuple[int, Dict[str, str], bytes]:
    """Splunk HEC's 400 naming the first invalid event."""
    body = {"text": text, "code": code, "invalid-event-number": number}
    return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()


def loki_error(status: int, text: str = "", retry_after: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
    """Loki's plain-text error: 400 (a bad entry) or 429 (rate limited)."""
    default = {
        400: "entry for stream '{level=\"INFO\"}' has timestamp too old: 2024-05-01T12:00:00Z",
        429: "Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '2' lines",
    }
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return status, headers, (text or default.get(status, "error")).encode()


def _parse(body: bytes, content_type: str, path: str) -> List[Dict[str, Any]]:
    from threaded_logging.cli.collector import parse_body
    from urllib.parse import parse_qs, urlsplit

    if not body:
        query = urlsplit(path).query
        return [{k: v[0] for k, v in parse_qs(query).items()}] if query else []
    return [json.loads(line) for line in parse_body(body, content_type)]


def make_certificate(directory: Path) -> Tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "threaded-logging test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def wrap_tls(server: ThreadingHTTPServer, cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Factory = Callable[..., Scripted]
