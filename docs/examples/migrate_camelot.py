"""From Camelot's threaded_logging: the import line changes, the calls stay."""

# before: from camelot.core.threaded_logging import ThreadedHttpHandler, ThreadedTimer
from threaded_logging import ThreadedHttpHandler, ThreadedTimer


def after(host):
    handler = ThreadedHttpHandler(host, "/log", "GET")  # Camelot's positional arguments
    return handler


class Heartbeat:
    """Camelot's timer drives any object that has a timeout() method."""

    def __init__(self):
        self.beats = 0

    def timeout(self):
        self.beats += 1


def start_heartbeat(interval_ms=50):
    heartbeat = Heartbeat()
    timer = ThreadedTimer(interval_ms, heartbeat)
    timer.start()
    return heartbeat, timer  # timer.stop() ends it
