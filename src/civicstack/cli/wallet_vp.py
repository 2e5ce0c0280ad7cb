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

import httpx
from rich.text import Text

from civicstack._crypto import json_dumps
from civicstack.cli._input import read_json
from civicstack.cli._output import console, emit, err_console
from civicstack.cli._server import raise_for_problem
from civicstack.errors import InputError
from civicstack.fetch import HttpTransport
from civicstack.openid4vp import parse_authorization_request
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet import ConsentSummary, LowCopies, UnsafeReuseCopies, Wallet
from civicstack.wallet import openid4vp as protocol
from civicstack.wallet.anchors import Anchoring


def _roots_from(value: Any) -> list[RootAuthority]:
    if isinstance(value, dict) and "roots" in value:
        value = value["roots"]
    items = value if isinstance(value, list) else [value]
    roots = [RootAuthority.from_json(item) for item in items]
    if not roots:
        raise InputError("invalid_request", "--trust-root names no root")
    return roots


def trusted_registry(wallet: Wallet, url: str, trust_root: str | None) -> TrustRegistry:
    """The trust registry rebuilt from the platform's statements under the wallet's root
    (:func:`civicstack.wallet.openid4vp.platform_trust`), saying which roots it pinned."""
    pin = _roots_from(read_json(trust_root, "--trust-root")) if trust_root is not None else []
    transport = HttpTransport()
    try:
        anchoring = protocol.platform_trust(wallet, transport, url, pin=pin)
    finally:
        transport.close()
    say_pinned(anchoring, url)
    return anchoring.registry


def say_pinned(anchoring: Anchoring, source: str) -> None:
    """Tell the holder, on stderr, which roots the wallet has just pinned."""
    for root in anchoring.pinned:
        err_console.print(Text(f"pinned trust root {root.name} ({root.id})"))
    for root in anchoring.first_use:
        kids = ", ".join(sorted(root.keys.thumbprints()))
        err_console.print(
            Text(
                f"trusting {root.name} ({root.id}) from now on, first seen at {source} "
                f"(keys {kids}); use --trust-root to choose another"
            )
        )


platform_of = protocol.platform_of


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
            render(summary, protocol.registrar_name(registry, summary.registrar))
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


def _body(raw: bytes) -> Any:
    try:
        return httpx.Response(200, content=raw).json()
    except ValueError:
        return None
