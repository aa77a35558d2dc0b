"""A destination of your own: one small Transport class.

Run it: ``python docs/examples/transport.py`` prints each record as a JSON
line, from the handler's timer thread, and the handler's counters.
"""

import logging
import sys
from typing import Optional

from threaded_logging import Answer, Request, ThreadedHandler, Transport
from threaded_logging._schema import dumps


class PrintTransport(Transport):
    """Writes each record's schema JSON to a stream; every record is delivered."""

    def __init__(self, stream=sys.stdout):
        super().__init__()
        self.stream = stream

    def send(self, request: Request, timeout_s: Optional[float]) -> Answer:
        for item in request.items:
            self.stream.write(dumps(self.schema.fields(item)) + "\n")
        self.stream.flush()
        return Answer.ok(len(request.items))

    def describe(self) -> str:
        return "PrintTransport(stdout)"


if __name__ == "__main__":
    handler = ThreadedHandler(transport=PrintTransport(), static_fields={"app": "example"})
    log = logging.getLogger("example")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("hello %s", "world", extra={"user": "alice"})
    handler.flush(timeout=5)
    print(handler.stats()["sent"], "sent", file=sys.stderr)
