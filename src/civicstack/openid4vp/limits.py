"""The caps OpenID4VP messages are read under (requests and responses are hostile input)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of OpenID4VP messages.

    ``request_object_bytes``  largest Request Object (a compact JWS) read (default 64 KiB)
    ``uri_chars``             characters of an Authorization Request URI or of a URL in a
                              request (default 4096)
    ``vp_token_bytes``        largest ``vp_token`` read (default 1 MiB)
    ``presentations``         presentations one ``vp_token`` holds (default 16)
    ``error_chars``           characters of an ``error_description`` (default 1024)
    """

    request_object_bytes: int = 64 * 1024
    uri_chars: int = 4096
    vp_token_bytes: int = 1024 * 1024
    presentations: int = 16
    error_chars: int = 1024


DEFAULT_LIMITS = Limits()
