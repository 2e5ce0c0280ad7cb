"""Caps on everything the consent service reads, keeps and hands out.

Operators change one with ``CIVIC_LIMIT_CONSENT_<FIELD>`` (see the README's Limits).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The consent service's caps (defaults in brackets).

    ``categories`` (16) data categories per request; ``valid_days`` (730) longest validity a
    request may ask for; ``request_lifetime`` (2,592,000 s, 30 days) how long a request waits in
    the citizen's inbox; ``nonce_lifetime`` (300 s) how long a wallet has to use a nonce;
    ``pending_per_subject`` (20) requests waiting for one citizen from one requester;
    ``pending_per_requester`` (10,000) requests waiting from one requester;
    ``requests_per_minute`` (120) requests one requester may make a minute;
    ``presentation_bytes`` (32,768) a PID presentation; ``jws_bytes`` (16,384) a signed consent
    or withdrawal; ``page_size`` (100) items a listing returns; ``inbox_requesters`` (1,000)
    requesters whose pending requests one inbox pull looks at.
    """

    categories: int = 16
    valid_days: int = 730
    request_lifetime: int = 30 * 86_400
    nonce_lifetime: int = 300
    pending_per_subject: int = 20
    pending_per_requester: int = 10_000
    requests_per_minute: int = 120
    presentation_bytes: int = 32 * 1024
    jws_bytes: int = 16 * 1024
    page_size: int = 100
    inbox_requesters: int = 1_000


#: The defaults.
DEFAULT_LIMITS = Limits()
