"""The ``threaded-logging`` command line."""
