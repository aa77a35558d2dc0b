"""Field extraction and redaction shared by the request hooks.

Nothing secret is ever put in a field: only the path of a URL (never its
query string or user info), never headers or bodies. Free text that may
embed a URL (error messages) goes through :func:`redact`.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

#: Query parameters whose values are secrets (SigV2/SigV4, tokens).
SECRET_PARAMS = (
    "Signature", "AWSAccessKeyId", "X-Amz-Credential", "X-Amz-Signature",
    "X-Amz-Security-Token", "SecurityToken", "access_token", "token", "password", "secret",
)
_PARAM_RE = re.compile(
    r"(?i)\b(" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=([^&\s'\"<>]*)"
)
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_HEADER_RE = re.compile(
    r"(?i)\b(Authorization|X-Amz-Security-Token|Cookie|Set-Cookie)(['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n,}]+)"
)

REDACTED = "REDACTED"


def redact(text: str) -> str:
    """Text with secret query values, URL user info and auth headers masked."""
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    return _HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def split_url(url: str) -> Tuple[Optional[str], str]:
    """``(host[:port], path)`` of a URL, dropping user info and the query."""
    parts = urlsplit(url)
    host = parts.hostname
    if host is not None and parts.port is not None:
        host = f"{host}:{parts.port}"
    return host, parts.path or "/"


def describe_error(exc: BaseException) -> str:
    """``Type: message``, redacted and bounded."""
    text = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")[:500]


def http_fields(method: str, url: str, status: Optional[int], duration: Optional[float],
                size: Optional[int]) -> Dict[str, Any]:
    """The fields of one HTTP exchange; ``error`` is set for no status or >= 400."""
    host, path = split_url(url)
    return {
        "action": f"{method} {path}",
        "method": method,
        "host": host,
        "path": path,
        "status": status,
        "duration": duration,
        "size": size,
        "error": status is None or status >= 400,
    }


def failure_fields(method: str, url: str, duration: float, exc: BaseException) -> Dict[str, Any]:
    """The fields of a request that got no response (refused, timed out)."""
    fields = http_fields(method, url, None, duration, None)
    fields["error_detail"] = describe_error(exc)
    return fields


def log_request(logger: logging.Logger, level: int, fields: Dict[str, Any]) -> None:
    """Emit one request record; its message is the fields in a short line."""
    if not logger.isEnabledFor(level):
        return
    size = fields.get("size")
    duration = fields.get("duration")
    logger.log(
        level,
        "%s %s %s in %s s, %s bytes",
        fields.get("action"),
        fields.get("status") if fields.get("status") is not None else "-",
        "failed" if fields.get("error") else "ok",
        f"{duration:.6f}" if isinstance(duration, float) else "-",
        size if size is not None else "-",
        extra=fields,
        stacklevel=1,
    )


def content_length(headers: Any) -> Optional[int]:
    """The Content-Length header as an int, if present and sane."""
    try:
        value = headers.get("Content-Length") if headers is not None else None
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def resolve_logger(logger: Any) -> logging.Logger:
    """A logger from a name or a Logger."""
    if isinstance(logger, logging.Logger):
        return logger
    if isinstance(logger, str):
        return logging.getLogger(logger)
    raise TypeError(f"logger must be a name or a logging.Logger, got {logger!r}")


def resolve_level(level: Any) -> int:
    """A level from a number or a name."""
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        resolved = logging.getLevelName(level.upper())
        if isinstance(resolved, int):
            return resolved
    raise ValueError(f"level must be a level number or name, got {level!r}")
