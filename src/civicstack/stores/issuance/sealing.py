"""Personal data in the issuer's rows, sealed with AES-256-GCM under a key derived from the
platform's master key and bound to its table and row (associated data).

The verifier's store seals its results the same way, under its own key and ``domain``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from civicstack._crypto import aead_decrypt, aead_encrypt, json_dumps, json_loads_strict
from civicstack.errors import CivicError


class RowSealer:
    """Personal data in rows, sealed with AES-256-GCM and bound to its table and row."""

    def __init__(self, key: Callable[[], bytes], *, domain: str = "issuance") -> None:
        self._key = key
        self._domain = domain

    def _aad(self, kind: str, row_id: str) -> bytes:
        return f"{self._domain}/{kind}/{row_id}".encode()

    def seal(self, kind: str, row_id: str, value: Any) -> bytes:
        """``value`` as JSON, encrypted for ``kind/row_id``."""
        return aead_encrypt(self._key(), json_dumps(value), self._aad(kind, row_id))

    def open(self, kind: str, row_id: str, blob: bytes | None) -> Any:
        """What :meth:`seal` sealed (None for None); ``internal_error`` if it does not open."""
        if blob is None:
            return None
        try:
            plain = aead_decrypt(self._key(), bytes(blob), self._aad(kind, row_id))
            return json_loads_strict(plain)
        except CivicError as exc:
            raise CivicError("internal_error", f"sealed {kind} {row_id} does not open") from exc
