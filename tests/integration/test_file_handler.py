"""ThreadedFileHandler against the real file system."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from threaded_logging import JsonFormatter, ThreadedFileHandler

from ..helpers import make_logger


class TestThreadedFileHandler:
    def test_plain_text_through_the_formatter(self, tmp_path: Path) -> None:
        """Lines are written through the handler's formatter, in order."""
        path = tmp_path / "app.log"
        handler = ThreadedFileHandler(str(path), flush_interval=10)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logger = make_logger("file.plain", handler)
        for i in range(3):
            logger.warning("n=%d", i)
        assert handler.flush(timeout=5)
        assert path.read_text().splitlines() == [f"WARNING file.plain n={i}" for i in range(3)]

    def test_json_lines(self, tmp_path: Path) -> None:
        """With JsonFormatter the file holds one schema object per line, static fields included."""
        path = tmp_path / "app.jsonl"
        handler = ThreadedFileHandler(str(path), flush_interval=10, static_fields={"app": "demo"})
        handler.setFormatter(JsonFormatter())
        logger = make_logger("file.json", handler)
        logger.info("hello %s", "there", extra={"user": "u"})
        logger.info("%d", "bad")
        assert handler.flush(timeout=5)
        first, second = [json.loads(line) for line in path.read_text().splitlines()]
        assert (first["message"], first["user"], first["app"]) == ("hello there", "u", "demo")
        assert second["format_error"].startswith("TypeError") and second["args"] == "('bad',)"

    def test_invalid_unicode_does_not_break_the_batch(self, tmp_path: Path) -> None:
        """A lone surrogate in one record leaves the others intact."""
        path = tmp_path / "u.log"
        handler = ThreadedFileHandler(str(path), flush_interval=10)
        logger = make_logger("file.unicode", handler)
        logger.info("ok 1")
        logger.info("bad \udce9")
        logger.info("ok 2")
        assert handler.flush(timeout=5)
        assert path.read_text().splitlines() == ["ok 1", "bad \\udce9", "ok 2"]

    def test_rotation_by_size(self, tmp_path: Path) -> None:
        """Files rotate before exceeding max_bytes; backup_count files are kept."""
        path = tmp_path / "rot.log"
        handler = ThreadedFileHandler(str(path), flush_interval=10, max_bytes=100, backup_count=2)
        logger = make_logger("file.rotate", handler)
        for i in range(30):
            logger.info("line %03d ..........", i)  # 20 bytes with newline
        assert handler.flush(timeout=5)
        handler.close()
        names = sorted(os.listdir(tmp_path))
        assert names == ["rot.log", "rot.log.1", "rot.log.2"]
        for name in names:
            assert (tmp_path / name).stat().st_size <= 100
        lines = (tmp_path / "rot.log.2").read_text().splitlines()
        lines += (tmp_path / "rot.log.1").read_text().splitlines() + path.read_text().splitlines()
        assert lines == [f"line {i:03d} .........." for i in range(15, 30)]

    def test_mode_w_truncates(self, tmp_path: Path) -> None:
        """mode='w' starts from an empty file."""
        path = tmp_path / "w.log"
        path.write_text("old\n")
        handler = ThreadedFileHandler(str(path), mode="w", flush_interval=10)
        make_logger("file.w", handler).info("new")
        assert handler.flush(timeout=5)
        assert path.read_text() == "new\n"

    def test_unwritable_file_is_counted_not_raised(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A path that cannot be opened: the caller never sees it, counters and stderr do."""
        handler = ThreadedFileHandler(str(tmp_path / "missing" / "x.log"), delay=True, flush_interval=10, max_retry_time=0.2)
        logger = make_logger("file.bad", handler)
        logger.info("lost")
        assert handler.flush(timeout=5) is False
        stats = handler.stats()
        assert stats["failed"] == 1 and "No such file or directory" in stats["last_error"]
        assert "No such file or directory" in capsys.readouterr().err

    def test_bad_arguments(self, tmp_path: Path) -> None:
        """Bad mode, sizes or encoding fail at construction with the option named."""
        with pytest.raises(ValueError, match="mode"):
            ThreadedFileHandler(str(tmp_path / "a"), mode="r")
        with pytest.raises(ValueError, match="backup_count"):
            ThreadedFileHandler(str(tmp_path / "a"), max_bytes=10)
        with pytest.raises(LookupError):
            ThreadedFileHandler(str(tmp_path / "a"), encoding="no-such-codec")
