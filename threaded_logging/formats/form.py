"""The stdlib ``HTTPHandler``'s POST body: one urlencoded record per request.

Keeps a receiver written for :class:`logging.handlers.HTTPHandler` working.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, Sequence
from urllib.parse import parse_qs

from .._snapshot import Item
from .._transport import Request
from ..transports._encode import encode_form
from ._base import Format


class FormFormat(Format):
    """``application/x-www-form-urlencoded``, the record's attributes as fields."""

    name: ClassVar[str] = "form"
    content_type: ClassVar[str] = "application/x-www-form-urlencoded"
    one_per_request: ClassVar[bool] = True

    def encode(self, items: Sequence[Item], max_bytes: int, max_records: Optional[int]) -> List[Request]:
        return [Request([item], encode_form(item, self.schema)) for item in items]

    @classmethod
    def decode(cls, body: bytes) -> List[Dict[str, Any]]:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return [{k: v[0] if len(v) == 1 else v for k, v in fields.items()}] if fields else []
