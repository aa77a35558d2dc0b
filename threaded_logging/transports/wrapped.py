"""A stdlib handler run on the timer thread (Camelot's ThreadedHandler)."""

from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Sequence

from .._retry import Outcome
from .._snapshot import as_stdlib_record
from .._transport import Answer, Request, Transport


class WrappedTransport(Transport):
    """Calls a stdlib handler's ``emit`` for each record, on the timer thread.

    The target's lock is not taken: only this thread calls it, and
    ``logging.shutdown()`` takes every handler's lock and must never wait on
    a target stuck in ``emit``. The target's level and filters apply; each
    record is a copy that formats as it did at emit time and carries
    ``record_id``.

    Args:
        target: the handler to run.
    """

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        target, record_id = self.target, self.schema.record_id
        items = request.items
        failed: Dict[int, str] = {}
        for index, item in enumerate(items):
            deadline = self.deadline  # set by close(), maybe while this runs
            if deadline is not None and time.monotonic() >= deadline:
                return Answer(delivered=_except(range(index), failed), retry=range(index, len(items)),
                              failed=failed, error="shutdown deadline reached")
            record = as_stdlib_record(item, record_id(item))
            if record.levelno < target.level:
                continue
            checked = target.filter(record) if target.filters else True
            if not checked:
                continue
            try:
                target.emit(checked if isinstance(checked, logging.LogRecord) else record)
            except Exception as exc:
                if self.classify_exception(exc) is Outcome.RETRY:
                    return Answer(delivered=_except(range(index), failed), retry=range(index, len(items)),
                                  failed=failed, error=self.describe_failure(exc))
                failed[index] = self.describe_failure(exc)
        return Answer(delivered=_except(range(len(items)), failed), failed=failed,
                      error=next(iter(failed.values()), None))

    def close(self) -> None:
        self.target.close()

    def describe(self) -> str:
        return f"ThreadedHandler({type(self.target).__name__})"


def _except(indices: range, failed: Dict[int, str]) -> Sequence[int]:
    return indices if not failed else [i for i in indices if i not in failed]
