"""The caps SD-JWTs are read and verified under (RFC 9901 §9: every presentation is hostile).

Every entry point of :mod:`civicstack.sdjwt` that reads input (parsing, processing, key
binding, verification, and :func:`~civicstack.sdjwt.conceal` for an issuer's claims) takes
``limits`` (keyword-only). The JWS layer (:mod:`civicstack._crypto`) keeps its own ceilings
below these (a JWS header of at most 4 KiB, the members of a JWK).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size, count and time caps of SD-JWTs, each refused with the code its check names.

    ``sd_jwt_bytes``      largest SD-JWT or SD-JWT+KB read, compact or JWS JSON (default
                          256 KiB; ``too_large``)
    ``issuer_jwt_bytes``  largest issuer-signed JWT, per signature of a JWS JSON document
                          (default 128 KiB; ``too_large``)
    ``disclosures``       Disclosures one SD-JWT carries (default 512; ``too_large``)
    ``disclosure_bytes``  characters of one encoded Disclosure (default 16 KiB; ``too_large``)
    ``depth``             nesting of the claims, processed or concealed (default 32;
                          ``too_large``)
    ``kb_jwt_bytes``      largest KB-JWT (default 8 KiB; ``key_binding_failed``)
    ``kb_jwt_age``        seconds a KB-JWT stays fresh after its ``iat`` (default 300;
                          ``stale_key_binding``)
    ``clock_skew``        seconds an ``iat`` may lie ahead of the verifier's clock (default 60;
                          ``not_yet_valid`` for the credential, ``stale_key_binding`` for the
                          KB-JWT)
    """

    sd_jwt_bytes: int = 256 * 1024
    issuer_jwt_bytes: int = 128 * 1024
    disclosures: int = 512
    disclosure_bytes: int = 16 * 1024
    depth: int = 32
    kb_jwt_bytes: int = 8 * 1024
    kb_jwt_age: int = 300
    clock_skew: int = 60


DEFAULT_LIMITS = Limits()
