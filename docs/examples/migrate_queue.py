"""From QueueHandler + QueueListener: one wrapper, and nothing to start or stop."""

import logging
import logging.handlers
import queue


def before(filename):
    records = queue.Queue(-1)
    listener = logging.handlers.QueueListener(
        records, logging.FileHandler(filename), respect_handler_level=True)
    listener.start()  # and listener.stop() before exit, or the last records are lost
    return logging.handlers.QueueHandler(records), listener


def after(filename):
    from threaded_logging import ThreadedHandler

    return ThreadedHandler(logging.FileHandler(filename))  # drained and closed at exit
