"""The roots a wallet trusts: pinned at the holder's request, or on first use.

A credential or a relying party's request is only as trustworthy as the root its chain ends in.
The wallet keeps the roots it trusts (:meth:`Wallet.trust_anchors`); a statement that does not
verify under them simply does not count. Where do the roots come from?

1. the ones the holder pins explicitly (``--trust-root``), kept from then on;
2. with none pinned yet, the roots the other side publishes (an issuer's JWT VC Issuer Metadata,
   a platform's ``/trust/registry``) are pinned on first use — and the caller tells the holder,
   naming the root and its keys;
3. afterwards another root is refused: its statements do not verify under the pinned keys.

``civic wallet receive|present`` and the web wallet (``civic wallet ui``) both anchor through
:func:`anchor`, so they trust the same roots by the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from civicstack.errors import CivicError
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet.holder import Wallet


@dataclass(frozen=True, slots=True)
class Anchoring:
    """The registry a wallet checks against, and the roots it pinned while building it."""

    registry: TrustRegistry
    #: Roots pinned now because the holder asked (step 1).
    pinned: tuple[RootAuthority, ...] = ()
    #: Roots pinned now on first use (step 2): tell the holder.
    first_use: tuple[RootAuthority, ...] = ()


def anchor(
    wallet: Wallet,
    *,
    offered: Sequence[RootAuthority],
    statements: Iterable[str],
    source: str,
    pin: Sequence[RootAuthority] = (),
) -> Anchoring:
    """The trust registry of ``statements`` under the wallet's roots: pins ``pin`` first (step
    1), else ``offered`` when the wallet trusts no root yet (step 2). ``untrusted_issuer``
    when no root is pinned and ``source`` offers none."""
    # 1. what the holder pins
    pinned = tuple(root for root in pin if wallet.pin_trust_anchor(root))
    # 2. trust on first use
    first_use: tuple[RootAuthority, ...] = ()
    if not wallet.trust_anchors():
        if not offered:
            raise CivicError("untrusted_issuer", f"{source} names no root to trust")
        first_use = tuple(root for root in offered if wallet.pin_trust_anchor(root))
    # 3. only statements that verify under the pinned roots count
    registry = TrustRegistry(wallet.trust_anchors())
    for token in statements:
        try:
            registry.add(token)
        except CivicError:
            continue
    return Anchoring(registry, pinned, first_use)
