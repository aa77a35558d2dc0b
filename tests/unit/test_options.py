"""Validation and unit conversion of the common options."""

from __future__ import annotations

import logging

import pytest

from threaded_logging._options import DEFAULTS, parse_options


class TestParseOptions:
    def test_defaults_are_converted_to_seconds(self) -> None:
        """flush_interval is given in ms and held in seconds; defaults apply."""
        opts = parse_options({})
        assert opts.interval_s == DEFAULTS["flush_interval"] / 1000
        assert opts.capacity == 10_000
        assert opts.overflow == "drop_newest"
        assert opts.shutdown_timeout_s == 5.0

    def test_strings_from_config_files_are_accepted(self) -> None:
        """Numbers given as strings (fileConfig) and level names resolve."""
        opts = parse_options({"flush_interval": "250", "capacity": "5", "level": "warning"})
        assert opts.interval_s == 0.25
        assert opts.capacity == 5
        assert opts.level == logging.WARNING

    @pytest.mark.parametrize(
        ("options", "error", "fragment"),
        [
            ({"capacity": 0}, ValueError, "capacity must be >= 1"),
            ({"batch_size": 1.5}, ValueError, "batch_size must be a whole number"),
            ({"flush_interval": "soon"}, TypeError, "flush_interval must be a number"),
            ({"overflow": "explode"}, ValueError, "overflow must be one of"),
            ({"shutdown_timeout": -1}, ValueError, "shutdown_timeout must be >= 0"),
            ({"capacity": True}, TypeError, "capacity must be a number"),
            ({"level": "LOUD"}, ValueError, "level must be a known level name"),
            ({"static_fields": ["x"]}, TypeError, "static_fields must be a dict"),
            ({"static_fields": {"message": "x"}}, ValueError, "schema field"),
            ({"flush_intervall": 5}, TypeError, "unknown option(s): flush_intervall"),
        ],
    )
    def test_bad_values_name_the_option(self, options: dict, error: type, fragment: str) -> None:
        """A bad option raises at construction with the option's name and value."""
        with pytest.raises(error) as info:
            parse_options(options)
        assert fragment in str(info.value)

    def test_max_retry_time_none_means_until_close(self) -> None:
        """max_retry_time=None is kept as 'no limit'."""
        assert parse_options({"max_retry_time": None}).max_retry_time_s is None
