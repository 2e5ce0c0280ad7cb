"""Picking a key from the keys a party holds on record: a root's configured keys, or the keys
listed by its accreditations or registrations.

A statement being added is verified with any key on record named by its ``kid`` (validity is
decided later, at resolution); a credential or a request is verified with a key held at ``now``,
and without a ``kid`` the party must hold exactly one.
"""

from __future__ import annotations

from collections.abc import Sequence

from civicstack._crypto import PublicKey
from civicstack.errors import VerificationError
from civicstack.trust.fields import KeySet
from civicstack.trust.statements import Statement, UnverifiedStatement

_MAX_KID_CANDIDATES = 4


def verify_on_record(unverified: UnverifiedStatement, keysets: Sequence[KeySet]) -> Statement:
    """Verify a statement with a key of ``keysets`` named by its ``kid``; return it."""
    iss, kid = unverified.iss, unverified.kid
    # Several accreditations may name different keys with the same JWK kid: try each (a
    # few at most), so that one authority's odd kid cannot shadow another's real key.
    candidates = {k.thumbprint(): k for ks in keysets if (k := ks.find(kid)) is not None}
    if not candidates:
        raise VerificationError("invalid_signature", f"{iss} holds no key {kid!r}")
    for key in list(candidates.values())[:_MAX_KID_CANDIDATES]:
        try:
            return unverified.build(key)
        except VerificationError as exc:
            if exc.code not in ("invalid_signature", "unsupported_algorithm"):
                raise
    raise VerificationError("invalid_signature", f"not signed by {iss}'s key {kid!r}")


def pick_key(keysets: Sequence[KeySet], kid: str | None, code: str, who: str) -> PublicKey:
    """The key named ``kid`` (else the only key) among ``keysets``; raise ``code`` otherwise."""
    if kid is not None:
        for keys in keysets:
            key = keys.find(kid)
            if key is not None:
                return key
        raise VerificationError(code, f"{who} holds no valid key {kid!r}")
    distinct = {k.thumbprint(): k for keys in keysets for k in keys.keys}
    if len(distinct) != 1:
        raise VerificationError(code, f"{who} holds {len(distinct)} keys: the JWS must name one")
    return next(iter(distinct.values()))
