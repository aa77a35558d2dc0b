"""From logging.handlers.HTTPHandler: the same arguments, sent from a background thread."""

import logging.handlers

from threaded_logging import ThreadedHttpHandler


def before(host):
    return [
        logging.handlers.HTTPHandler(host, "/log"),          # GET: the record's dict as a query
        logging.handlers.HTTPHandler(host, "/log", "POST"),  # POST: the same dict as a form
    ]


def after(host):
    return [
        ThreadedHttpHandler(host, "/log"),                          # GET: a drop-in
        ThreadedHttpHandler(host, "/log", "POST", format="form"),   # POST: keep the form
    ]
