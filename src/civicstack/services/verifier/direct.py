"""Presentations received elsewhere: one SD-JWT+KB checked for a relying party's backend.

A backend that got a presentation some other way than an OpenID4VP response names the ``nonce``
it gave the holder and the ``aud`` it expects (by default its client_id); the presentation gets
the same checks as one in a response. The replay guard, last, is the
:class:`~civicstack.services.verifier.service.Verifier`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from civicstack.credentials import verify_presentation
from civicstack.errors import InputError
from civicstack.openid4vp import DcqlQuery, client_id_for
from civicstack.services.verifier.answers import credential_json
from civicstack.services.verifier.api_keys import Caller
from civicstack.services.verifier.limits import DEFAULT_LIMITS, Limits
from civicstack.services.verifier.replay import Accepted, kb_digest, replay_until
from civicstack.trust import TrustRegistry
from civicstack.trust.parties import HostedAuthority
from civicstack.types import StatusChecker

#: The default of :attr:`Limits.presentation_bytes`, by its former name.
MAX_PRESENTATION_BYTES = DEFAULT_LIMITS.presentation_bytes


def check_direct(
    caller: Caller,
    presentation: object,
    *,
    nonce: object,
    aud: object,
    relying_party: str | None,
    query: DcqlQuery | None,
    hosted_as: Callable[[str], HostedAuthority],
    registry_at: Callable[[float], TrustRegistry],
    status: StatusChecker,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
) -> Accepted:
    """Steps 1-3 of :meth:`Verifier.verify_presentation`: everything but the replay guard.

    ``hosted_as`` finds a relying party hosted here; ``registry_at`` gives the trust registry
    at most that many seconds old.
    """
    name = caller.acting_for(relying_party)
    if name is None:
        raise InputError("invalid_request", "name the relying_party the check is for")
    if not isinstance(presentation, str) or not presentation:
        raise InputError("invalid_request", "presentation must be an SD-JWT+KB string")
    if len(presentation) > limits.presentation_bytes:
        raise InputError("too_large", f"presentations are at most {limits.presentation_bytes} B")
    if not isinstance(nonce, str) or not nonce or len(nonce) > 1024:
        raise InputError("invalid_request", "nonce must be the string the holder was given")
    hosted = hosted_as(name)
    expected_aud = client_id_for(hosted.identifier) if aud is None else aud
    if not isinstance(expected_aud, str) or not expected_aud or len(expected_aud) > 4096:
        raise InputError("invalid_request", "aud must be a string")
    registry = registry_at(1)
    # 1. the relying party is registered and not suspended (refused everywhere)
    registry.relying_party(hosted.identifier, now)
    # 2. the presentation: signatures, disclosures, KB-JWT aud/nonce/iat, chain, status
    verified = verify_presentation(
        presentation,
        trust=registry,
        aud=expected_aud,
        nonce=nonce,
        now=now,
        status=status,
        max_kb_age=limits.kb_age,
    )
    # 3. what it shows answers the query, when one is given
    if query is not None:
        fits = [c for c in query.credentials if verified.vct in c.vct_values]
        (fits or list(query.credentials))[0].check(verified.vct, verified.payload)
    return Accepted(
        result={"verified": True, "relying_party": name, **credential_json(verified)},
        digest=kb_digest(presentation),
        relying_party=name,
        until=replay_until(now, limits=limits),
    )
