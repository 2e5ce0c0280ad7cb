"""The wallet's side of OpenID4VP 1.0: receive a request, check it, answer it with consent.

The wallet is handed an Authorization Request (``openid4vp://?client_id=...&request_uri=...``,
§9) and:

1. reads ``client_id`` and ``request_uri`` from it (RFC 9101 §5.2);
2. fetches the Request Object from ``request_uri`` with ``Accept:
   application/oauth-authz-req+jwt`` (the Wallet sends nothing else about itself, §15.8);
3. authenticates it (§5.9.3 ``verifier_attestation``, §12): the Verifier Attestation JWT in its
   ``jwt`` header must come from a registrar of the trust registry this wallet trusts (the
   root, or an authority accredited to register relying parties) and the Request Object be
   signed with the attested key; the other checks of :func:`verify_request_object`;
4. binds that key to the relying party's registration (the attested key must be a key the
   registration lists, and the relying party must not be suspended);
5. checks it can answer in the formats the verifier accepts (``vp_formats_supported``,
   Appendix B.3.4; ``vp_formats_not_supported`` otherwise);
6. chooses what to present from the DCQL query (§6.4): the first credential type and claim
   option it holds;
7. presents through :meth:`Wallet.present`, which checks the request against the registration
   (suspension, over-asking), asks the holder showing exactly what leaves the device, and
   records the outcome in the history; the KB-JWT ``aud`` is the full ``client_id`` and its
   ``nonce`` the request's (Appendix B.3, §14.1);
8. sends the ``vp_token`` (``{"<query id>": ["<SD-JWT+KB>"]}``, §8.1) and ``state`` to
   ``response_uri`` with ``direct_post`` (§8.2); a declined request is answered with the error
   ``access_denied`` (§8.5).

HTTP goes through the wallet's :class:`~civicstack.wallet.transport.Transport`, as for
OpenID4VCI: the CLI passes :class:`civicstack.fetch.HttpTransport`, tests may pass any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from civicstack import openid4vp
from civicstack._crypto import json_loads_strict
from civicstack.errors import CivicError, InputError, ProtocolError, VerificationError
from civicstack.openid4vp import (
    FORMAT_SD_JWT_VC,
    REQUEST_MEDIA_TYPE,
    DcqlClaim,
    RequestObject,
    error_form,
    parse_authorization_request,
    verify_request_object,
    vp_token_form,
)
from civicstack.trust import DEFAULT_LIMITS as TRUST_LIMITS
from civicstack.trust import RelyingPartyRegistration, RootAuthority, TrustRegistry
from civicstack.wallet.anchors import Anchoring, anchor
from civicstack.wallet.consent import ConsentPrompt, ConsentSummary
from civicstack.wallet.holder import UnsafeReuseCopies, Wallet
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits
from civicstack.wallet.presentation import CredentialQuery, Presentation, PresentationRequest
from civicstack.wallet.transport import Transport, error_from


def _fetch(transport: Transport, url: str, *, accept: str, max_bytes: int) -> bytes:
    """GET ``url``: its body, or ``fetch_failed`` for any failure (no answer, a body over the
    cap); an error status is the server's own coded error ('answered already', 'expired')."""
    try:
        status, body = transport.send("GET", url, max_bytes=max_bytes, headers={"Accept": accept})
    except CivicError as exc:
        raise CivicError("fetch_failed", exc.detail) from exc
    if not 200 <= status < 300:
        raise error_from(status, body, url)
    return body


def _post_form(
    transport: Transport, url: str, fields: Mapping[str, str], limits: Limits
) -> tuple[int, bytes]:
    """POST ``fields`` form-encoded: the status and the body, cut at the cap; ``fetch_failed``
    when no answer comes."""
    try:
        return transport.send(
            "POST", url, max_bytes=limits.verifier_response_bytes, form=fields, truncate=True
        )
    except CivicError as exc:
        raise CivicError("fetch_failed", exc.detail) from exc


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request the wallet authenticated, with the registration its key belongs to."""

    request: RequestObject
    registration: RelyingPartyRegistration


@dataclass(frozen=True, slots=True)
class Answer:
    """What the wallet sent, and what the verifier said."""

    presentation: Presentation
    status: int
    body: bytes


def registry_from_export(export: object, anchors: Sequence[RootAuthority]) -> TrustRegistry:
    """The trust registry a wallet rebuilds from a platform's published statements
    (``GET /trust/registry``), each verified under the roots the wallet itself trusts; a
    statement that does not verify under them simply does not count."""
    statements = export.get("statements") if isinstance(export, Mapping) else None
    if not isinstance(statements, list):
        raise InputError("malformed", "a trust registry export has a list of statements")
    registry = TrustRegistry(anchors)
    for token in statements:
        try:
            registry.add(token)
        except CivicError:
            continue
    return registry


def platform_of(request_uri: str) -> str:
    """The base URL of the platform serving ``request_uri``: what comes before its
    ``/verifier/`` path, else its origin (where that platform publishes ``/trust/registry``)."""
    parsed = urlsplit(request_uri)
    cut = parsed.path.find("/verifier/")
    prefix = parsed.path[:cut] if cut >= 0 else ""
    return urlunsplit((parsed.scheme, parsed.netloc, prefix, "", "")).rstrip("/")


def platform_trust(
    wallet: Wallet, transport: Transport, platform: str, *, pin: Sequence[RootAuthority] = ()
) -> Anchoring:
    """The trust registry rebuilt from ``platform``'s published statements (``GET
    {platform}/trust/registry``, read up to ``trust.Limits.export_bytes``), each verified under
    the wallet's roots (:func:`civicstack.wallet.anchors.anchor`: pinned, or on first use)."""
    url = f"{platform.rstrip('/')}/trust/registry"
    status, body = transport.send(
        "GET", url, max_bytes=TRUST_LIMITS.export_bytes, headers={"Accept": "application/json"}
    )
    if not 200 <= status < 300:
        raise error_from(status, body, url)
    export = json_loads_strict(body)
    roots = export.get("roots") if isinstance(export, Mapping) else None
    statements = export.get("statements") if isinstance(export, Mapping) else None
    if not isinstance(roots, list) or not isinstance(statements, list):
        raise InputError("malformed", "a trust registry export has roots and statements")
    offered = [RootAuthority.from_json(item) for item in roots]
    return anchor(wallet, offered=offered, statements=statements, source=url, pin=pin)


def receive(
    uri: str,
    *,
    transport: Transport,
    registry: TrustRegistry,
    now: int,
    limits: openid4vp.Limits = openid4vp.DEFAULT_LIMITS,
) -> ReceivedRequest:
    """Steps 1-4: read, fetch, authenticate a request and bind it to a registration."""
    # 1. client_id and request_uri
    client_id, request_uri = parse_authorization_request(uri, limits=limits)
    # 2. the Request Object, by reference
    token = _fetch(
        transport, request_uri, accept=REQUEST_MEDIA_TYPE, max_bytes=limits.request_object_bytes
    )
    # 3. authenticated by a registrar this wallet trusts
    try:
        text = token.decode("ascii")
    except UnicodeDecodeError as exc:
        raise VerificationError(
            "invalid_request_object", "the request object is not a JWS"
        ) from exc
    request = verify_request_object(
        text.strip(),
        client_id=client_id,
        issuer_key=registry.registrar_key,
        now=now,
        limits=limits,
    )
    # 4. the attested key is a key of the relying party's registration (refused when suspended)
    key = request.attestation.key
    registered = registry.relying_party_key(request.relying_party, key.thumbprint(), now)
    if registered != key:
        raise VerificationError(
            "unregistered_relying_party",
            "the attested key is not in the relying party's registration",
        )
    registration = next(
        r
        for r in registry.relying_party(request.relying_party, now)
        if r.keys.find(key.thumbprint()) is not None
    )
    if (
        request.attestation.iss != registration.registrar
        and request.attestation.iss not in registry.roots
    ):
        raise VerificationError(
            "invalid_request_object", "the attestation comes from neither the registrar nor a root"
        )
    return ReceivedRequest(request, registration)


def presentation_request(wallet: Wallet, received: ReceivedRequest) -> PresentationRequest:
    """Steps 5 and 6: the :class:`PresentationRequest` the wallet answers (§6.4 selection)."""
    request = received.request
    # 5. the verifier accepts SD-JWT VCs with this holder's key algorithm
    formats = request.client_metadata.get("vp_formats_supported")
    fmt = formats.get(FORMAT_SD_JWT_VC) if isinstance(formats, dict) else None
    if not isinstance(fmt, dict):
        raise ProtocolError(
            "unsupported", "vp_formats_not_supported", "the verifier does not accept dc+sd-jwt"
        )
    kb_algs = fmt.get("kb-jwt_alg_values")
    if isinstance(kb_algs, list) and wallet.holder_key.alg not in kb_algs:
        raise ProtocolError(
            "unsupported",
            "vp_formats_not_supported",
            f"the verifier does not accept {wallet.holder_key.alg} key binding",
        )
    # 6. the first type and claim option held, for every query the request needs
    held = [c for c in wallet.credentials() if c.valid_at(wallet.now())]

    def holds(vct: str, claims: tuple[DcqlClaim, ...]) -> bool:
        return any(c.vct == vct and all(claim.matches(c.claims) for claim in claims) for c in held)

    choices = request.dcql.choose(holds)
    purpose = request.purpose
    if purpose is None:
        # A verifier that does not name its purpose: the registration must have just one.
        if len(received.registration.purposes) != 1:
            raise InputError("invalid_request", "the request does not say which purpose it is for")
        purpose = next(iter(received.registration.purposes))
    return PresentationRequest.create(
        request.relying_party,
        purpose,
        [CredentialQuery(c.query, c.vct, c.paths or ("vct",)) for c in choices],
        nonce=request.nonce,
        aud=request.client_id,
    )


def preview(
    wallet: Wallet,
    received: ReceivedRequest,
    *,
    registry: TrustRegistry,
    reuse: UnsafeReuseCopies | None = None,
) -> ConsentSummary:
    """Steps 5-7 up to the question: what :func:`answer` would show the holder, with nothing
    sent and nothing recorded (an over-asking or suspended relying party is refused here, and
    that refusal is in the history, as in :func:`answer`). A screen that asks later passes
    ``consent=lambda s: s == shown`` to :func:`answer`, so what leaves is what was shown."""
    return wallet.preview(presentation_request(wallet, received), trust=registry, reuse=reuse)


def answer(
    wallet: Wallet,
    received: ReceivedRequest,
    *,
    registry: TrustRegistry,
    consent: ConsentPrompt,
    transport: Transport,
    limits: Limits = DEFAULT_LIMITS,
    reuse: UnsafeReuseCopies | None = None,
) -> Answer:
    """Steps 5-8: choose, present with consent, and post the response to the verifier.

    Declining posts ``access_denied`` and raises ``consent_declined``. Each credential goes as
    a copy no other relying party saw (:mod:`civicstack.wallet.holder`); ``no_unused_copy``
    when none is left, unless ``reuse`` allows it.
    """
    request = received.request
    wanted = presentation_request(wallet, received)
    try:
        # 7. registration check, consent, history
        presented = wallet.present(wanted, trust=registry, consent=consent, reuse=reuse)
    except CivicError as exc:
        if exc.code == "consent_declined":
            _post_form(
                transport,
                request.response_uri,
                error_form("access_denied", request.state, "the holder declined"),
                limits,
            )
        raise
    # 8. direct_post the vp_token
    form = vp_token_form({k: [v] for k, v in presented.tokens.items()}, request.state)
    status, body = _post_form(transport, request.response_uri, form, limits)
    return Answer(presented, status, body)


def registrar_name(registry: TrustRegistry, identifier: str) -> str | None:
    """The display name of the registrar ``identifier`` (a root, or an accredited authority)."""
    root = registry.roots.get(identifier)
    if root is not None:
        return root.name
    names = [a.name for a in registry.accreditations if a.authority == identifier]
    return names[-1] if names else None


def describe(received: ReceivedRequest) -> dict[str, Any]:
    """What the request is, for display: who asks, under which registration, for what."""
    request, registration = received.request, received.registration
    return {
        "client_id": request.client_id,
        "relying_party": request.relying_party,
        "name": registration.name,
        "registrar": registration.registrar,
        "registration": registration.jti,
        "purpose": request.purpose,
        "response_uri": request.response_uri,
        "dcql_query": request.dcql.to_json(),
    }
