"""Making a presentation request: what is asked, by whom, and the signed Request Object.

What is asked is a preset or a DCQL query (OpenID4VP 1.0 §6) with its purpose. The request is
a Request Object (§5, RFC 9101) signed with the relying party's key and carrying, in its
``jwt`` header, a Verifier Attestation JWT (§12) from the relying party's registrar.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.openid4vp import DcqlQuery, sign_request_object, sign_verifier_attestation
from civicstack.services.authorities import Authorities
from civicstack.services.verifier.api_keys import Caller
from civicstack.services.verifier.presets import PRESETS, Preset
from civicstack.trust import RelyingPartyRegistration, TrustRegistry
from civicstack.trust.parties import HostedAuthority

#: How long a wallet has to answer a request (its Request Object and attestation expire too).
REQUEST_LIFETIME = 600


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    """A request just made: what the relying party shows the holder (as a link or QR code)."""

    id: str
    request: str  # openid4vp://?client_id=...&request_uri=...
    client_id: str
    request_uri: str
    relying_party: str
    purpose: str
    preset: str | None
    expires_at: int
    #: The desk page that shows the request as a QR code, then its result (with its token).
    page: str = ""

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "id": self.id,
            "request": self.request,
            "client_id": self.client_id,
            "request_uri": self.request_uri,
            "relying_party": self.relying_party,
            "purpose": self.purpose,
            "preset": self.preset,
            "expires_at": self.expires_at,
            "page": self.page,
        }


def random_id() -> str:
    """A fresh identifier, nonce or state: 128 random bits (§5.2, §13.3)."""
    # Hex, not base64url: `civic verifier result ID` would read an id starting with "-" as an
    # option.
    return secrets.token_hex(16)


def what_is_asked(
    caller: Caller, relying_party: str | None, preset: str | None, dcql_query: object
) -> tuple[Preset | None, DcqlQuery, str]:
    """The preset (if one is named), the query and the relying party asking."""
    if (preset is None) == (dcql_query is None):
        raise InputError("invalid_request", "give a preset or a dcql_query (one of them)")
    if preset is not None:
        chosen = PRESETS.get(preset)
        if chosen is None:
            raise InputError(
                "invalid_request", f"no preset {preset!r}: one of {', '.join(PRESETS)}"
            )
        return chosen, chosen.query, caller.acting_for(relying_party) or chosen.relying_party
    acting = caller.acting_for(relying_party)
    if acting is None:
        raise InputError("invalid_request", "name the relying_party the query is made for")
    return None, DcqlQuery.parse(dcql_query), acting


def only_purpose(registry: TrustRegistry, hosted: HostedAuthority, now: int) -> str:
    """The purpose of a relying party registered for exactly one (else name one)."""
    purposes = {p for r in registry.relying_party(hosted.identifier, now) for p in r.purposes}
    if len(purposes) != 1:
        raise InputError(
            "invalid_request", f"name the purpose: one of {', '.join(sorted(purposes))}"
        )
    return purposes.pop()


def sign_request(
    authorities: Authorities,
    hosted: HostedAuthority,
    *,
    registration: RelyingPartyRegistration,
    registry: TrustRegistry,
    response_uri: str,
    client_id: str,
    nonce: str,
    state: str,
    query: DcqlQuery,
    purpose: str,
    now: int,
    expires_at: int,
) -> str:
    """The Request Object, signed by the relying party under its registrar's attestation."""
    _, key = authorities.store.signing_key(hosted.name)
    if registration.keys.find(key.public_key.thumbprint()) is None:
        raise VerificationError(
            "unregistered_relying_party",
            f"{hosted.name}'s signing key is not in its registration: register it again",
        )
    registrar = authorities.store.by_identifier(registration.registrar)
    if registrar is None:
        raise CivicError(
            "unregistered_relying_party",
            f"{hosted.name}'s registrar {registration.registrar} is not hosted here",
        )
    _, registrar_key = authorities.store.signing_key(registrar.name)
    # The attestation must verify as a wallet will check it (never sign what is refused).
    registry.registrar_key(registrar.identifier, registrar_key.public_key.thumbprint(), now)
    attestation = sign_verifier_attestation(
        registrar_key,
        iss=registrar.identifier,
        sub=hosted.identifier,
        key=key.public_key,
        now=now,
        exp=expires_at,
        redirect_uris=[response_uri],
        name=registration.name,
    )
    return sign_request_object(
        key,
        attestation=attestation,
        client_id=client_id,
        response_uri=response_uri,
        nonce=nonce,
        state=state,
        dcql=query,
        now=now,
        exp=expires_at,
        purpose=purpose,
        registration=registration.token,
    )
