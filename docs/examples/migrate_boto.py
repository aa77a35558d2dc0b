"""From boto's RequestLogger: the same request hook, without its blocking queue."""

# before: from boto.requestlog import RequestLogger
#         (it imports Python 2's Queue module, so it no longer imports at all)
from threaded_logging import RequestLogger


def after(conn, filename="request_log.csv"):
    request_logger = RequestLogger(filename)  # boto's default was /tmp/request_log.csv
    conn.set_request_hook(request_logger)
    return request_logger
