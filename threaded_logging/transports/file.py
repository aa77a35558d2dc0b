"""ThreadedFileHandler: file writes on the timer thread, optional rotation."""

from __future__ import annotations

import logging
import os
from typing import IO, Any, Callable, List, Optional, Sequence

from .._config import DRY_RUN
from .._handler import ThreadedHandler
from .._options import choice, whole
from .._schema import JsonFormatter, Schema, dumps, dumps_bytes
from .._snapshot import Item, as_stdlib_record
from .._transport import Answer, Request, Transport


class FileTransport(Transport):
    """Appends lines to a file, one ``write`` per batch; rotates by size.

    Args:
        filename: absolute path of the file.
        mode: ``"a"`` or ``"w"`` (truncate when first opened).
        encoding: text encoding; unencodable characters are backslash-escaped.
        max_bytes: rotate before the file would grow past this (0: never).
        backup_count: rotated files kept.
        formatter: returns the handler's formatter (it may be set later).
        terminator: what ends each line.
    """

    def __init__(self, filename: str, mode: str, encoding: str, max_bytes: int, backup_count: int,
                 formatter: Callable[[], Optional[logging.Formatter]], terminator: str = "\n") -> None:
        super().__init__()
        self.filename = filename
        self.mode = mode
        self.encoding = encoding
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.terminator = terminator
        self._formatter = formatter
        self._stream: Optional[IO[bytes]] = None
        self._size = 0
        self._first_open = True

    def describe(self) -> str:
        return f"ThreadedFileHandler({self.filename})"

    def open(self) -> IO[bytes]:
        """The file, opened on first use (and again after an error or rotation)."""
        stream = self._stream
        if stream is None:
            mode = "wb" if self.mode == "w" and self._first_open else "ab"
            stream = self._stream = open(self.filename, mode)  # noqa: SIM115 - kept open
            self._first_open = False
            self._size = stream.seek(0, os.SEEK_END)
        return stream

    def encode(self, items: Sequence[Item]) -> List[Request]:
        formatter = self._formatter()
        encoding, term = self.encoding, self.terminator
        if isinstance(formatter, JsonFormatter):
            schema = self.schema
            if formatter.static_fields:
                schema = Schema({**self.schema.static_fields, **formatter.static_fields})
                schema.id_prefix = self.schema.id_prefix
            fields = schema.fields
            if encoding.replace("-", "").lower() == "utf8":
                tail = term.encode()
                return [Request(items, [dumps_bytes(fields(item)) + tail for item in items])]
            lines = [dumps(fields(item)) + term for item in items]
        else:
            fmt = (formatter or _DEFAULT_FORMATTER).format
            record_id = self.schema.record_id
            lines = [fmt(as_stdlib_record(item, record_id(item))) + term for item in items]
        return [Request(items, [line.encode(encoding, "backslashreplace") for line in lines])]

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        payloads: List[bytes] = request.body
        try:
            stream = self.open()
            if not self.max_bytes:
                stream.write(b"".join(payloads))
                self._size += sum(map(len, payloads))
            else:
                for data in payloads:
                    if self._size and self._size + len(data) > self.max_bytes:
                        self._rotate()
                        stream = self.open()
                    stream.write(data)
                    self._size += len(data)
            stream.flush()
        except OSError:
            self._close_stream()  # reopen next time (stale handle, full disk)
            raise
        return Answer.ok(len(request.items))

    def _rotate(self) -> None:
        self._close_stream()
        base = self.filename
        for index in range(self.backup_count - 1, 0, -1):
            source = f"{base}.{index}"
            if os.path.exists(source):
                os.replace(source, f"{base}.{index + 1}")
        if os.path.exists(base):
            os.replace(base, f"{base}.1")
        self._first_open = False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass

    def close(self) -> None:
        self._close_stream()

    def after_fork(self) -> None:
        # The parent's file object and its buffer belong to the parent.
        self._stream = None


_DEFAULT_FORMATTER = logging.Formatter()


class ThreadedFileHandler(ThreadedHandler):
    """Write records to a file from the timer thread.

    A slow or hung (network) file system delays the timer thread, never the
    application. Lines go through the handler's formatter (plain text by
    default, JSON lines with :class:`~threaded_logging.JsonFormatter`), are
    encoded with ``encoding`` (unencodable characters backslash-escaped) and
    written one batch per ``write`` call.

    Args:
        filename: path of the log file.
        mode: ``"a"`` (default) appends, ``"w"`` truncates when first opened.
        encoding: text encoding (default ``"utf-8"``).
        delay: open the file on the first write instead of now (default False).
        max_bytes: rotate before a file would grow past this many bytes
            (default 0: never).
        backup_count: rotated files kept as ``filename.1`` ... ``.N``;
            required (>= 1) with ``max_bytes``.
        **options: the common options of :class:`ThreadedHandler`.

    Threads:
        The constructor opens the file on the caller's thread unless
        ``delay``. ``emit`` never touches the file. Opening, writing,
        rotating and flushing happen on the timer thread; ``close`` waits for
        them up to ``shutdown_timeout``.
    """

    terminator = "\n"

    def __init__(
        self,
        filename: str,
        mode: str = "a",
        encoding: Optional[str] = "utf-8",
        delay: bool = False,
        max_bytes: int = 0,
        backup_count: int = 0,
        **options: Any,
    ) -> None:
        mode = choice("mode", mode, ("a", "w"))
        max_bytes = whole("max_bytes", max_bytes, minimum=0)
        backup_count = whole("backup_count", backup_count, minimum=0)
        if max_bytes and not backup_count:
            raise ValueError("max_bytes needs backup_count >= 1 (rotated files to keep)")
        self.baseFilename = os.path.abspath(os.fspath(filename))
        self.mode = mode
        self.encoding = encoding or "utf-8"
        "".encode(self.encoding)  # an unknown encoding fails here, not on the worker
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._file = FileTransport(self.baseFilename, mode, self.encoding, max_bytes, backup_count,
                                   lambda: self.formatter, self.terminator)
        super().__init__(transport=self._file, **options)
        if DRY_RUN.active:  # check-config: say whether it could open, create nothing
            directory = os.path.dirname(self.baseFilename)
            if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
                raise OSError(f"cannot create {self.baseFilename}: directory missing or not writable")
        elif not delay:
            self._file.open()
