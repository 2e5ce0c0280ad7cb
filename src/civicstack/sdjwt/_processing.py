"""Processing Disclosures: RFC 9901 §7.1 step 3 to 5, and the Holder's selection (§7.2).

The walk builds a new payload and never copies what it does not change: permanently disclosed
values are shared with the parsed input, only objects and arrays on the way to a digest are
rebuilt. Every failure is a :class:`VerificationError` with the check's own code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from civicstack._crypto import sha256_b64url
from civicstack.errors import InputError, VerificationError
from civicstack.sdjwt._disclosures import (
    DOTS,
    RESERVED,
    SD,
    SD_ALG,
    Disclosure,
    Path,
    decode_disclosure,
    exists,
    format_path,
)
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits


class DisclosedClaim(NamedTuple):
    """A Disclosure that was used, where it landed, and the Disclosure that contained it."""

    path: Path
    disclosure: Disclosure
    parent: str | None  # digest of the enclosing Disclosure; None when signed in the JWT


class Processed(NamedTuple):
    """The Processed SD-JWT Payload (§7.1) and the Disclosures it used, in order of use.

    A NamedTuple, like :class:`DisclosedClaim`: every verification builds one.
    """

    claims: dict[str, Any]
    disclosed: tuple[DisclosedClaim, ...]


_CONTAINERS = frozenset({dict, list})
_STRINGS = frozenset({str})


def _plain(obj: dict[str, Any]) -> bool:
    """An object of scalars without reserved names (a JWK, say) needs no processing."""
    # Type sets compared in C (map/isdisjoint), not a generator: this runs for every object.
    return (
        SD not in obj
        and DOTS not in obj
        and SD_ALG not in obj
        and _CONTAINERS.isdisjoint(map(type, obj.values()))
    )


class _Walk:
    def __init__(self, disclosures: Sequence[str], limits: Limits) -> None:
        self.limits = limits
        self.max_depth = limits.depth
        # 3.1. For each Disclosure provided, calculate the digest over its base64url string.
        self.by_digest: dict[str, str] = {}
        for encoded in disclosures:
            try:
                # disclosure_digest, inlined (one call fewer per Disclosure).
                digest = sha256_b64url(encoded.encode("ascii"))
            except UnicodeEncodeError as exc:
                raise VerificationError("invalid_disclosure", "a disclosure is not ASCII") from exc
            if digest in self.by_digest:
                # RFC 9901 §4: a Holder MUST NOT send a Disclosure more than once.
                raise VerificationError("duplicate_disclosure", "a disclosure is presented twice")
            self.by_digest[digest] = encoded
        self.seen: set[str] = set()
        self.disclosed: list[DisclosedClaim] = []

    def claim(self, digest: object) -> Disclosure | None:
        """Steps 3.3 and 4 for one embedded digest: its Disclosure, or None (decoy/withheld)."""
        if not isinstance(digest, str):
            raise VerificationError("reserved_claim", "_sd and ... must carry digest strings")
        # 4. A digest value encountered more than once (directly or via Disclosures) rejects.
        if digest in self.seen:
            raise VerificationError("duplicate_digest", "a digest appears more than once")
        self.seen.add(digest)
        # 3.3.1. Find the matching Disclosure; a digest without one is ignored.
        encoded = self.by_digest.get(digest)
        if encoded is None:
            return None
        return decode_disclosure(encoded, limits=self.limits, digest=digest)

    def value(self, value: Any, path: Path, depth: int, parent: str | None) -> Any:
        # Exact types: the input is parsed JSON, and this runs for every value in the payload.
        kind = type(value)
        if kind is dict:
            if _plain(value):
                return value  # nothing to process below: share it rather than copy it
            return self.members(value, path, depth + 1, parent, top=False)
        if kind is list:
            return self.elements(value, path, depth + 1, parent)
        return value

    def members(
        self, obj: dict[str, Any], path: Path, depth: int, parent: str | None, *, top: bool
    ) -> dict[str, Any]:
        if depth > self.max_depth:
            raise InputError("too_large", f"claims nest deeper than {self.max_depth} levels")
        out: dict[str, Any] = {}
        for name, value in obj.items():
            if name == SD:
                continue
            if name == DOTS:
                # §4.1 rule 7: "..." only ever conveys an array element's digest.
                raise VerificationError("reserved_claim", "'...' used as an object member")
            if name == SD_ALG:
                if not top:
                    # §4.1.1: _sd_alg MUST NOT be used in any nested object.
                    raise VerificationError("reserved_claim", "_sd_alg inside a nested object")
                # 3.6. Remove the claim _sd_alg from the payload.
                continue
            if type(value) in _CONTAINERS:
                out[name] = self.value(value, (*path, name), depth, parent)
            else:
                out[name] = value  # a scalar: no call, no path built (most members are)
        digests = obj.get(SD)
        if digests is not None:
            self.disclose_members(obj, digests, out, path=path, depth=depth, parent=parent)
        # 3.5. The _sd keys are not copied into the output.
        return out

    def disclose_members(
        self,
        obj: dict[str, Any],
        digests: object,
        out: dict[str, Any],
        *,
        path: Path,
        depth: int,
        parent: str | None,
    ) -> None:
        # 3.2.1. Objects with an _sd key referring to an array of strings.
        if not isinstance(digests, list) or not _STRINGS.issuperset(map(type, digests)):
            raise VerificationError("reserved_claim", "_sd must be an array of digest strings")
        # 4. No digest twice, here or anywhere else (set arithmetic: most digests are decoys or
        # withheld claims, so the common path never leaves C).
        seen = self.seen
        before = len(seen)
        seen.update(digests)
        if len(seen) - before != len(digests):
            raise VerificationError("duplicate_digest", "a digest appears more than once")
        # 3.3.1. The matching Disclosures; a digest without one is ignored. Found with one set
        # intersection, then taken in the order of _sd (most digests match nothing).
        hits = self.by_digest.keys() & digests
        if not hits:
            return
        for digest in hits if len(hits) == 1 else [d for d in digests if d in hits]:
            encoded = self.by_digest[digest]
            disclosure = decode_disclosure(encoded, limits=self.limits, digest=digest)
            name = disclosure.name
            # 3.3.2.1. An _sd digest must refer to a [salt, claim name, claim value] Disclosure.
            if name is None:
                raise VerificationError(
                    "invalid_disclosure", "an array-element disclosure is referenced from _sd"
                )
            # 3.3.2.2. The claim name may not be _sd or ...
            if name in RESERVED:
                raise VerificationError("reserved_claim", f"a disclosure names {name!r}")
            # 3.3.2.3. The claim name may not exist already at the level of the _sd key.
            if name in out or name in obj:
                raise VerificationError(
                    "claim_collision", f"{format_path((*path, name))} is disclosed twice"
                )
            # 3.3.2.4/5. Insert the claim, then process its value recursively.
            here = (*path, name)
            self.disclosed.append(DisclosedClaim(here, disclosure, parent))
            value = disclosure.value
            # A scalar (most disclosed claims) is its own processed value: no call.
            out[name] = (
                self.value(value, here, depth, digest) if type(value) in _CONTAINERS else value
            )

    def elements(self, array: list[Any], path: Path, depth: int, parent: str | None) -> list[Any]:
        if depth > self.max_depth:
            raise InputError("too_large", f"claims nest deeper than {self.max_depth} levels")
        out: list[Any] = []
        for element in array:
            # 3.2.2. Array elements that are objects with the one key "...".
            if not (type(element) is dict and DOTS in element):
                out.append(self.value(element, (*path, len(out)), depth, parent))
                continue
            if len(element) != 1:
                raise VerificationError("reserved_claim", "'...' object with other members")
            disclosure = self.claim(element[DOTS])
            # 3.4. Remove array elements whose digest has no Disclosure.
            if disclosure is None:
                continue
            # 3.3.3.1. An array digest must refer to a [salt, value] Disclosure.
            if disclosure.name is not None:
                raise VerificationError(
                    "invalid_disclosure", "an object-property disclosure is referenced from '...'"
                )
            # 3.3.3.2/3. Replace the element with the disclosed value, processed recursively.
            here = (*path, len(out))
            self.disclosed.append(DisclosedClaim(here, disclosure, parent))
            out.append(self.value(disclosure.value, here, depth, disclosure.digest))
        return out


def process(
    payload: Mapping[str, Any],
    disclosures: Sequence[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Processed:
    """RFC 9901 §7.1 steps 3 to 5 over a payload whose signature was (or will be) checked.

    Claims nesting deeper than ``limits.depth``, or a Disclosure longer than
    ``limits.disclosure_bytes``, are refused (``too_large``).

    The caller checks the signature and ``_sd_alg`` (steps 2.1 to 2.4) and validity claims
    (step 6). Paths in the result index arrays as they appear in the processed output.
    """
    walk = _Walk(disclosures, limits)
    # 3.2/3.3. Identify the embedded digests and process them, recursively (steps * and **).
    # The walk only reads its input, so a dict payload is walked as it is, not copied.
    top = payload if isinstance(payload, dict) else dict(payload)
    claims = walk.members(top, (), 0, None, top=True)
    # 5. Every Disclosure must be referenced by a digest (directly or via other Disclosures).
    # A digest is claimed at most once (step 4) and names one Disclosure, so each Disclosure
    # lands in walk.disclosed at most once: all were used exactly when the counts agree.
    if len(walk.disclosed) != len(walk.by_digest):
        raise VerificationError(
            "unreferenced_disclosure", "a disclosure is not referenced by any digest"
        )
    return Processed(claims, tuple(walk.disclosed))


def select_disclosures(
    processed: Processed, paths: Iterable[Path], *, descendants: bool = True
) -> tuple[str, ...]:
    """§7.2 step 1 and 2: the Disclosures to present for ``paths`` (Holder coordinates).

    A path selects the Disclosure that reveals it and every Disclosure it sits in, so the
    presented set always connects to the issuer-signed JWT (§4.2.6). With ``descendants`` the
    Disclosures below the path come too (the whole claim is shown). A path that is always
    visible selects nothing; a path that names no claim raises ``undisclosable_claim``.
    """
    by_digest = {entry.disclosure.digest: entry for entry in processed.disclosed}
    chosen: set[str] = set()
    for path in paths:
        size = len(path)
        hits = [
            entry.disclosure.digest
            for entry in processed.disclosed
            if entry.path == path or (descendants and entry.path[:size] == path)
        ]
        if not hits and not exists(processed.claims, path):
            raise InputError("undisclosable_claim", f"no claim at {format_path(path)}")
        for digest in hits:
            current: str | None = digest
            while current is not None and current not in chosen:
                chosen.add(current)
                current = by_digest[current].parent
    return tuple(
        entry.disclosure.encoded
        for entry in processed.disclosed
        if entry.disclosure.digest in chosen
    )
