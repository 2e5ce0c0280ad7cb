"""The verifier service's caps beyond the protocol's (:class:`civicstack.openid4vp.Limits`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and age caps of the verifier service.

    ``presentation_bytes``  largest presentation ``POST /verifier/verify`` reads (default
                            256 KiB; ``too_large``)
    ``kb_age``              oldest Key Binding JWT accepted, in seconds (default 300, RFC 9901
                            §7.3 step 5.5 policy); the replay guard remembers a KB-JWT this
                            long plus the clock skew verification allows
                            (:data:`~civicstack.services.verifier.replay.MAX_SKEW`)
    """

    presentation_bytes: int = 256 * 1024
    kb_age: int = 300


#: The caps the verifier uses unless given others.
DEFAULT_LIMITS = Limits()
