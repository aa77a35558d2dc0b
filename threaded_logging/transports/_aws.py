"""What the AWS transports share: client construction, argument checks, error codes."""

from __future__ import annotations

import inspect
from typing import Any, Dict, FrozenSet, Mapping, Optional

_client_params: Optional[FrozenSet[str]] = None


def error_code(exc: BaseException) -> Optional[str]:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        return str(code) if code else None
    return None


def http_status(exc: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError`` (0 when unknown)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return 0


def build_client_kwargs(region_name: Optional[str], endpoint_url: Optional[str],
                        extra: Optional[Mapping[str, Any]], check: bool = True) -> Dict[str, Any]:
    """The keyword arguments of ``boto3.client``, checked against its signature
    (unless ``check`` is False: a client was given and none is built).

    Raises:
        TypeError: ``extra`` holds an argument ``boto3.client`` does not take.
    """
    global _client_params
    kwargs = dict(extra or {})
    if region_name is not None:
        kwargs["region_name"] = region_name
    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
    if not check:
        return kwargs
    if _client_params is None:
        import boto3.session

        _client_params = frozenset(inspect.signature(boto3.session.Session.client).parameters) - {"self", "service_name"}
    unknown = set(kwargs) - _client_params
    if unknown:
        raise TypeError(f"unknown boto3 client argument(s): {', '.join(sorted(unknown))}")
    return kwargs


def make_client(service: str, kwargs: Mapping[str, Any]) -> Any:
    """A boto3 client of its own session, with few retries and short timeouts:
    the send loop retries, and exit must stay bounded."""
    import boto3
    from botocore.config import Config

    options = dict(kwargs)
    options.setdefault("config", Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5, read_timeout=15, max_pool_connections=1,
    ))
    return boto3.session.Session().client(service, **options)  # type: ignore[call-overload]


def is_botocore_error(exc: BaseException) -> bool:
    """Whether ``exc`` is botocore's own (unreachable endpoint, timeouts, no credentials)."""
    from botocore.exceptions import BotoCoreError

    return isinstance(exc, BotoCoreError)
