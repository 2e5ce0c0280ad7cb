"""Reading SD-JWTs: the compact form (RFC 9901 §4) and the JWS JSON Serialization (§8).

Every part is capped before it is decoded (whole input, number of Disclosures, length of each)
and parsed exactly once; the issuer-signed JWT's payload is kept parsed for the verifier.

Compact: ``<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~[<KB-JWT>]``. The final
component is empty for an SD-JWT and a KB-JWT for an SD-JWT+KB; a Disclosure is never empty
(the ABNF's ``DISCLOSURE = BASE64URL`` has at least one character).

JSON (§8): ``disclosures`` and ``kb_jwt`` travel in the unprotected header (of the first
signature, for the General serialization, §8.3). For interoperability we also read the layout
the ``sd-jwt`` reference implementation writes, with both members at the top level of a
flattened object; a document carrying them in both places is refused as ambiguous. Other
unprotected header parameters are ignored (RFC 7515 §4: not understood, not critical; §8.1:
not covered by any digest), except where ignoring them would change the meaning: ``crit``
(RFC 7515 §4.1.11 wants it protected), a parameter also in the protected header (§7.2.1), and a
signature object with a ``payload`` of its own (one JWS has one payload).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from civicstack._crypto import CompactJWS, json_object_strict, parse_compact
from civicstack.errors import InputError
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits

_SD_MEMBERS = ("disclosures", "kb_jwt")


class IssuerSignature(NamedTuple):
    """One signature over the issuer-signed payload, with its compact form and ``kid``.

    A NamedTuple, like :class:`~civicstack._crypto.CompactJWS`: one is built per presentation.
    """

    jws: CompactJWS
    compact: str
    kid: str | None


@dataclass(frozen=True, slots=True)
class SdJwt:
    """A parsed, not yet verified, SD-JWT or SD-JWT+KB."""

    signatures: tuple[IssuerSignature, ...]
    payload: dict[str, Any]
    disclosures: tuple[str, ...]
    kb_jwt: str | None
    # The compact input up to its last "~", when that is what was parsed: sd_hash input as is.
    compact: str | None = field(default=None, compare=False, repr=False)

    @property
    def header(self) -> dict[str, Any]:
        """The protected header of the (first) issuer signature."""
        return self.signatures[0].jws.header

    @property
    def issuer_jwt(self) -> str:
        """The issuer-signed JWT in compact form (the first signature's, for JSON)."""
        return self.signatures[0].compact

    @property
    def sd_jwt(self) -> str:
        """The SD-JWT without its KB-JWT: the exact input of ``sd_hash`` (§4.3.1, §8.1)."""
        if self.compact is not None:
            return self.compact
        return self.issuer_jwt + "~" + "".join(d + "~" for d in self.disclosures)

    def serialize(self) -> str:
        """The compact serialization (§4)."""
        return self.sd_jwt + (self.kb_jwt or "")


def _header_kid(header: dict[str, Any]) -> str | None:
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InputError("malformed", "kid must be a string")
    return kid


def _check_disclosures(disclosures: list[str], limits: Limits) -> None:
    max_disclosures, max_disclosure_bytes = limits.disclosures, limits.disclosure_bytes
    if len(disclosures) > max_disclosures:
        raise InputError("too_large", f"more than {max_disclosures} disclosures")
    for disclosure in disclosures:
        if not disclosure:
            raise InputError("malformed", "empty disclosure between '~' separators")
        if len(disclosure) > max_disclosure_bytes:
            raise InputError("too_large", f"a disclosure is longer than {max_disclosure_bytes}")


def _parse_compact_form(text: str, limits: Limits) -> SdJwt:
    # The first and last "~" are found (memchr), not split for: the issuer JWT before the first
    # and the KB-JWT after the last are most of the text, and only what lies between is split.
    first, last = text.find("~"), text.rfind("~")
    if first < 0:
        raise InputError("malformed", "an SD-JWT has at least one '~' after the issuer JWT")
    disclosures = text[first + 1 : last].split("~") if last > first else []
    _check_disclosures(disclosures, limits)
    issuer_jwt = text[:first]
    jws = parse_compact(issuer_jwt, max_bytes=limits.issuer_jwt_bytes)
    signature = IssuerSignature(jws, issuer_jwt, _header_kid(jws.header))
    kb_jwt = text[last + 1 :]
    return SdJwt(
        (signature,), jws.payload_json(), tuple(disclosures), kb_jwt or None, text[: last + 1]
    )


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InputError("malformed", f"JWS JSON member {name!r} must be a string")
    return value


def _signature(
    entry: object, payload: str, limits: Limits
) -> tuple[IssuerSignature, dict[str, Any]]:
    if not isinstance(entry, dict):
        raise InputError("malformed", "a JWS JSON signature is an object")
    if "payload" in entry:
        raise InputError("malformed", "a signature object carries a second payload")
    unprotected = entry.get("header", {})
    if not isinstance(unprotected, dict):
        raise InputError("malformed", "the unprotected header must be an object")
    if "crit" in unprotected:
        raise InputError("malformed", "crit must be in the protected header (RFC 7515 §4.1.11)")
    compact = f"{_string(entry, 'protected')}.{payload}.{_string(entry, 'signature')}"
    jws = parse_compact(compact, max_bytes=limits.issuer_jwt_bytes)
    # RFC 7515 §7.2.1: protected and unprotected header names must be disjoint.
    if set(jws.header) & set(unprotected):
        raise InputError("malformed", "a header parameter is both protected and unprotected")
    kid = _header_kid(jws.header) or _header_kid(unprotected)
    return IssuerSignature(jws, compact, kid), unprotected


def _parse_json_form(text: str, limits: Limits) -> SdJwt:
    document = json_object_strict(text)
    payload = _string(document, "payload")
    if "signatures" in document:  # §8.3 General
        entries = document["signatures"]
        if not isinstance(entries, list) or not entries or len(entries) > 8:
            raise InputError("malformed", "signatures must be a list of 1 to 8 objects")
        if "protected" in document or "signature" in document:
            raise InputError("malformed", "mixes the General and Flattened serializations")
    else:  # §8.2 Flattened
        entries = [{k: document[k] for k in ("protected", "signature", "header") if k in document}]
    parsed = [_signature(entry, payload, limits) for entry in entries]
    for _, later in parsed[1:]:
        if any(name in later for name in _SD_MEMBERS):
            raise InputError("malformed", "disclosures and kb_jwt belong to the first signature")
    carrier = parsed[0][1]
    top_level = [name for name in _SD_MEMBERS if name in document]
    if top_level:
        if any(name in carrier for name in _SD_MEMBERS) or "signatures" in document:
            raise InputError("malformed", "disclosures appear in two places")
        carrier = document
    disclosures = carrier.get("disclosures", [])
    if not isinstance(disclosures, list) or not all(isinstance(d, str) for d in disclosures):
        raise InputError("malformed", "disclosures must be a list of strings")
    kb_jwt = carrier.get("kb_jwt")
    if kb_jwt is not None and (not isinstance(kb_jwt, str) or not kb_jwt):
        raise InputError("malformed", "kb_jwt must be a non-empty string")
    # The compact form's caps on the Disclosures, so both forms obey the same; the payload was
    # decoded once, with the first signature, and is parsed once here.
    if any("~" in disclosure for disclosure in disclosures):
        # A Disclosure is base64url (§4.2.1): in the compact form "~" only ever separates them.
        raise InputError("malformed", "a disclosure cannot contain '~'")
    _check_disclosures(disclosures, limits)
    signatures = tuple(signature for signature, _ in parsed)
    return SdJwt(signatures, signatures[0].jws.payload_json(), tuple(disclosures), kb_jwt)


def parse_sd_jwt(text: str, *, limits: Limits = DEFAULT_LIMITS) -> SdJwt:
    """Split an SD-JWT or SD-JWT+KB (compact or JWS JSON) into its parts; nothing is verified.

    Refused with ``too_large`` past ``limits.sd_jwt_bytes`` (the whole input),
    ``limits.issuer_jwt_bytes`` (each issuer-signed JWT), ``limits.disclosures`` or
    ``limits.disclosure_bytes``.
    """
    if not isinstance(text, str):
        raise InputError("malformed", "an SD-JWT is a string")
    max_bytes = limits.sd_jwt_bytes
    if len(text) > max_bytes:
        raise InputError("too_large", f"SD-JWT longer than {max_bytes} bytes")
    if text.startswith("{"):
        return _parse_json_form(text, limits)
    return _parse_compact_form(text, limits)
