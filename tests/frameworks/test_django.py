"""docs/examples/django_settings.py under real Django: django.setup(), requests through the test client."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from threaded_logging.cli.collector import Collector

from .support import EXAMPLES, ROOT, duplicates, report, run_to_end, wait_records

pytest.importorskip("django")

SETTINGS = """
from django_settings import *  # noqa: F401,F403 - the example, as pasted into settings.py

SECRET_KEY = "not-secret-test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
"""

URLS = """
import logging

from django.http import HttpResponse
from django.urls import path

log = logging.getLogger("shop")


def cart(request):
    log.info("cart viewed", extra={"items": 3})
    return HttpResponse("ok")


def boom(request):
    raise ValueError("payment backend said no")


urlpatterns = [path("cart", cart), path("boom", boom)]
"""

MAIN = """
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "settings"

import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
statuses = [client.get(p).status_code for p in ("/cart", "/missing", "/boom")]
assert statuses == [200, 404, 500], statuses
"""


class TestDjango:
    def test_setup_and_requests_ship_app_and_django_request_records(
        self, collector: Collector, tmp_path: Path
    ) -> None:
        """django.setup() applies the example LOGGING; a view's record, django.request's 404
        warning and its 500 error with the traceback each arrive once, and the process exits 0."""
        for name, text in {"settings.py": SETTINGS, "urls.py": URLS, "main.py": MAIN}.items():
            (tmp_path / name).write_text(textwrap.dedent(text))
        env = {**os.environ, "THREADED_LOGGING_COLLECTOR": collector.address,
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path), str(EXAMPLES)])}
        status, pid, stderr = run_to_end([sys.executable, "main.py"], tmp_path, env)
        assert status == 0, stderr
        assert wait_records(collector, lambda rs: len(rs) >= 3, timeout=10)
        records = list(collector.records)
        assert duplicates(records) == []
        assert [(r["logger"], r["level"], r["message"]) for r in records] == [
            ("shop", "INFO", "cart viewed"),
            ("django.request", "WARNING", "Not Found: /missing"),
            ("django.request", "ERROR", "Internal Server Error: /boom"),
        ]
        assert records[0]["items"] == 3
        assert "ValueError: payment backend said no" in records[2]["exception"]
        assert {(r["process"], r["framework"], r["app"]) for r in records} == {(pid, "django", "shop")}
        report("django", records=len(records), pid=pid, exit=status)
