"""The caps the trust recipes read statements, registries and requests under (hostile input)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of the trust chain, each refused with the code its check names.

    ``statement_bytes``  largest trust statement (a compact JWS) read (default 64 KiB;
                         ``malformed``)
    ``text_chars``       characters of a description, a reason or a claim path (default 1024)
    ``keys``             keys one key set holds (default 16; ``invalid_key``)
    ``vcts``             credential types one scope names (default 64)
    ``claims``           claim paths one scope lists per credential type (default 256)
    ``path_depth``       segments of one dotted claim path (default 16)
    ``purposes``         purposes one relying-party registration holds (default 32)
    ``chain``            accreditations from an authority up to a root (default 5;
                         ``untrusted_issuer`` beyond it)
    ``request_claims``   claim paths one relying party's request names (default 256;
                         ``too_large``)
    ``export_bytes``     largest published registry (JSON) loaded (default 64 MiB;
                         ``too_large``)
    ``statements``       statements one published registry holds (default 100,000)
    ``validity_days``    longest validity of a statement a hosted authority signs (default
                         20 years; ``invalid_request``)

    Identifiers (2048 characters) and names (256) are not here: they are the widths of the
    stores' columns (:data:`civicstack.trust.fields.MAX_ID_CHARS`, ``MAX_NAME_CHARS``).
    """

    statement_bytes: int = 64 * 1024
    text_chars: int = 1024
    keys: int = 16
    vcts: int = 64
    claims: int = 256
    path_depth: int = 16
    purposes: int = 32
    chain: int = 5
    request_claims: int = 256
    export_bytes: int = 64 * 1024 * 1024
    statements: int = 100_000
    validity_days: int = 20 * 366


#: The caps every trust recipe uses unless given others.
DEFAULT_LIMITS = Limits()
