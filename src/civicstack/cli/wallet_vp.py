"""``civic wallet present <openid4vp request>``: answer a relying party over OpenID4VP 1.0.

The wallet authenticates the request against the trust registry it trusts, which it rebuilds
from the platform's published statements (``--server``), verifying each from the root's keys:

* which platform? The one the link names: its ``request_uri`` is served by the platform's
  verifier (``{base}/verifier/request-objects/{id}``), so ``{base}/trust/registry`` is where
  that platform publishes its statements; ``--server`` (``CIVIC_SERVER``) overrides it;
* which root? The roots this wallet pinned (the same trust anchors ``civic wallet receive``
  uses). ``--trust-root`` pins the one given (``{"id","name","jwks"}``, or a
  ``/trust/registry`` export); with none pinned yet the wallet pins the roots the platform
  publishes on first use (and says so). Afterwards a platform showing another root is
  refused: its statements do not verify under the pinned keys;
* then :mod:`civicstack.wallet.openid4vp` does the protocol: the request object, its Verifier
  Attestation and signature, the registration, the holder's consent (``--yes`` for scripts),
  the history, and the ``direct_post`` of the ``vp_token``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.text import Text

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.cli._input import read_json
from civicstack.cli._output import console, emit, err_console
from civicstack.cli._server import raise_for_problem, server
from civicstack.errors import InputError
from civicstack.fetch import HttpTransport, read_capped
from civicstack.openid4vp import parse_authorization_request
from civicstack.trust import DEFAULT_LIMITS as TRUST_LIMITS
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet import ConsentSummary, LowCopies, UnsafeReuseCopies, Wallet
from civicstack.wallet import openid4vp as protocol


def _roots_from(value: Any) -> list[RootAuthority]:
    if isinstance(value, dict) and "roots" in value:
        value = value["roots"]
    items = value if isinstance(value, list) else [value]
    roots = [RootAuthority.from_json(item) for item in items]
    if not roots:
        raise InputError("invalid_request", "--trust-root names no root")
    return roots


def trusted_registry(wallet: Wallet, url: str, trust_root: str | None) -> TrustRegistry:
    """The trust registry rebuilt from the platform's statements under the wallet's root."""
    # The registry is read streamed and capped (trust.Limits.export_bytes): never held whole
    # before its size is known.
    with server(url) as client, client.stream("GET", "/trust/registry") as published:
        body = read_capped(published, TRUST_LIMITS.export_bytes, what=f"{url}/trust/registry")
    if not published.is_success:
        raise_for_problem(httpx.Response(published.status_code, content=body))
    export = json_loads_strict(body)
    if trust_root is not None:
        for root in _roots_from(read_json(trust_root, "--trust-root")):
            if wallet.pin_trust_anchor(root):
                err_console.print(Text(f"pinned trust root {root.name} ({root.id})"))
    anchors = wallet.trust_anchors()
    if not anchors:
        for root in _roots_from(export):
            wallet.pin_trust_anchor(root)
            kids = ", ".join(sorted(root.keys.thumbprints()))
            err_console.print(
                Text(
                    f"trusting {root.name} ({root.id}) from now on, first seen at {url} "
                    f"(keys {kids}); use --trust-root to choose another"
                )
            )
        anchors = wallet.trust_anchors()
    return protocol.registry_from_export(export, anchors)


def platform_of(request_uri: str) -> str:
    """The base URL of the platform serving ``request_uri``: what comes before its
    ``/verifier/`` path, else its origin."""
    parsed = urlsplit(request_uri)
    path = parsed.path
    cut = path.find("/verifier/")
    prefix = path[:cut] if cut >= 0 else ""
    return urlunsplit((parsed.scheme, parsed.netloc, prefix, "", "")).rstrip("/")


def present_request(
    wallet: Wallet,
    request: str,
    *,
    url: str | None,
    trust_root: str | None,
    answer: Callable[[], bool],
    as_json: bool,
    render: Any,
    reuse: UnsafeReuseCopies | None = None,
) -> None:
    """Answer an ``openid4vp://`` request; ``render(summary)`` shows the consent screen and
    ``answer()`` is the holder's answer.

    Each credential goes as a copy no other relying party saw; with ``reuse`` (the holder's
    explicit ``--reuse-copies``) a shown one when none is left. Low copies are warned of on
    stderr (and listed under ``warnings`` with ``--json``)."""
    # refuse a malformed request before any network
    _, request_uri = parse_authorization_request(request)
    registry = trusted_registry(wallet, url or platform_of(request_uri), trust_root)
    transport = HttpTransport()
    try:
        received = protocol.receive(
            request, transport=transport, registry=registry, now=wallet.now()
        )

        def consent(summary: ConsentSummary) -> bool:
            render(summary, _registrar_name(registry, summary.registrar))
            return answer()

        answered = protocol.answer(
            wallet,
            received,
            registry=registry,
            consent=consent,
            transport=transport,
            reuse=reuse,
        )
    finally:
        transport.close()
    if answered.status != 200:
        raise_for_problem(httpx.Response(answered.status, content=answered.body))
    data = {
        "relying_party": received.request.relying_party,
        "client_id": received.request.client_id,
        "purpose": received.request.purpose,
        "shared": {
            item.query: {c.path: c.value for c in item.claims}
            for item in answered.presentation.summary.items
        },
        "history": answered.presentation.record.seq,
        "verifier": _body(answered.body),
        "warnings": warn_low_copies(answered.presentation.low_copies),
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            Text(
                f"Presented to {received.registration.name}: " + json_dumps(data["shared"]).decode()
            )
        ),
    )


def warn_low_copies(low: Sequence[LowCopies]) -> list[dict[str, Any]]:
    """Tell the holder, on stderr, which credentials are running out of unused copies; the
    warnings as JSON."""
    out = []
    for item in low:
        err_console.print(Text(f"{item.vct} from {item.issuer}: {item.message}"))
        out.append(
            {
                "code": "low_copies",
                "credential": item.credential,
                "unused": item.unused,
                "message": item.message,
            }
        )
    return out


def _registrar_name(registry: TrustRegistry, identifier: str) -> str | None:
    root = registry.roots.get(identifier)
    if root is not None:
        return root.name
    names = [a.name for a in registry.accreditations if a.authority == identifier]
    return names[-1] if names else None


def _body(raw: bytes) -> Any:
    try:
        return httpx.Response(200, content=raw).json()
    except ValueError:
        return None
