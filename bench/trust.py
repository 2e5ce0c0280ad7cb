"""Trust-chain resolution: what accreditation chains cost a verifier.

Measured in one run, for chains of 1 and 3 accreditations below the root:

* ``TrustRegistry``: ``issuer_key`` + ``check_scope``, as ``verify_presentation`` calls them
  (cached resolution), and the same with the cache dropped before every call (a full walk),
  the figure compared with the peer, which caches nothing either;
* the peer: re-verifying the chain's signed statements on every credential, which is what a
  verifier does when the chain travels with each credential (OpenID Federation 1.0
  ``trust_chain``, §10.2) — one signature check per link, here through the same libraries;
* a whole presentation (SD-JWT VC, 12-claim PID disclosing ``age_over_18``, ES256, key binding)
  verified with the registry versus a single pinned issuer key (``StaticIssuer``): the price
  of the trust chain inside a real verification.

Run: ``.venv/bin/python bench/trust.py`` (about 10 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from civicstack._crypto import PrivateKey, PublicKey, verify_compact
from civicstack.credential_types import PID_VCT, pid_claims, pid_disclosable
from civicstack.credentials import (
    StaticIssuer,
    UnsafeSkipStatus,
    issue_credential,
    present_credential,
    verify_presentation,
)
from civicstack.trust import (
    Authority,
    RootAuthority,
    TrustRegistry,
    sign_accreditation,
)

T0 = 1_767_225_600
NOW = T0 + 3600
ROOT = "https://gov.example"
SCOPE = {
    PID_VCT: [
        "given_name",
        "family_name",
        "birthdate",
        "nationalities",
        "address",
        "issuing_authority",
        "issuing_country",
        "age_over_13",
        "age_over_16",
        "age_over_18",
        "age_over_21",
        "age_over_65",
    ]
}


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second over about ``seconds``."""
    fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def build(depth: int) -> tuple[TrustRegistry, Authority, list[str], RootAuthority]:
    """A registry with a chain of ``depth`` accreditations; the leaf, the chain's tokens."""
    root_key = PrivateKey.generate("ES256")
    root = RootAuthority.create(ROOT, "Government", [root_key.public_key])
    registry = TrustRegistry([root])
    by = Authority(ROOT, root_key)
    tokens: list[str] = []
    for i in range(depth):
        key = PrivateKey.generate("ES256")
        token = sign_accreditation(
            by,
            authority=f"https://a{i}.example",
            name=f"a{i}",
            keys=[key.public_key],
            scope=SCOPE,
            now=T0,
            exp=T0 + 86_400 * 365,
            may_accredit=i < depth - 1,
        )
        tokens.append(token)
        by = Authority(f"https://a{i}.example", key, registry.add_accreditation(token))
    return registry, by, tokens, root


def main() -> None:
    print("trust-chain resolution (calls/s), one thread in this process")
    print(
        "  the ratio compares equal warm states: the registry's full walk (its cache dropped\n"
        "  before every call) against re-verifying the chain's statements (OpenID Federation\n"
        "  trust_chain, no cache either); cached resolution is shown, never divided by the peer"
    )
    print(
        f"{'depth':>5} {'cached':>10} {'full walk':>10} {'re-verify chain':>16} {'walk/peer':>10}"
    )
    names = frozenset(["age_over_18"])
    for depth in (1, 3):
        registry, leaf, tokens, root = build(depth)

        def cached(reg: TrustRegistry = registry, iss: str = leaf.id) -> None:
            reg.issuer_key(iss, None, NOW)
            reg.check_scope(iss, PID_VCT, names, NOW)

        def walk(reg: TrustRegistry = registry, iss: str = leaf.id) -> None:
            reg._cache.clear()  # the benchmark's one reach inside: force a full resolution
            reg.issuer_key(iss, None, NOW)
            reg.check_scope(iss, PID_VCT, names, NOW)

        keys = [root.keys.keys[0], *[a.keys.keys[0] for a in registry.accreditations][:-1]]

        def reverify(chain: list[str] = tokens, signers: list[PublicKey] = keys) -> None:
            for token, key in zip(chain, signers, strict=True):
                verify_compact(token, key, typ="accreditation+jwt")

        c, w, p = rate(cached), rate(walk), rate(reverify)
        print(f"{depth:>5} {c:>10,.0f} {w:>10,.0f} {p:>16,.0f} {w / p:>9.1f}x")

    registry, leaf, _, _ = build(3)
    holder = PrivateKey.generate("ES256")
    claims = pid_claims(
        given_name="Erika",
        family_name="Mustermann",
        birthdate="1984-01-26",
        issuing_authority="Passport Office",
        issuing_country="GB",
        nationalities=["DE"],
        address={"locality": "Leeds", "postal_code": "LS1"},
        now=T0,
    )
    sd_jwt = issue_credential(
        leaf.key,
        iss=leaf.id,
        vct=PID_VCT,
        claims=claims,
        holder=holder.public_key,
        disclosable=pid_disclosable(claims),
        iat=T0,
    )
    presentation = present_credential(
        sd_jwt,
        disclose=["age_over_18"],
        holder=holder,
        aud="https://shop.example",
        nonce="n",
        now=NOW,
    )
    pinned = StaticIssuer(leaf.key.public_key, iss=leaf.id)

    def with_registry() -> None:
        verify_presentation(
            presentation,
            trust=registry,
            aud="https://shop.example",
            nonce="n",
            now=NOW,
            status=UnsafeSkipStatus(),
        )

    def with_pinned_key() -> None:
        verify_presentation(
            presentation,
            trust=pinned,
            aud="https://shop.example",
            nonce="n",
            now=NOW,
            status=UnsafeSkipStatus(),
        )

    # Interleaved rounds, best of each: the machine is shared, so single runs drift.
    rounds = [(rate(with_registry, 0.7), rate(with_pinned_key, 0.7)) for _ in range(3)]
    r, s = max(x for x, _ in rounds), max(y for _, y in rounds)
    print()
    print("presentation verification, PID, age_over_18, ES256 + KB (verifications/s)")
    print(f"  depth-3 TrustRegistry   {r:>8,.0f}")
    print(f"  pinned key (StaticIssuer) {s:>6,.0f}")
    print(f"  registry / pinned        {r / s:>8.2f}")


if __name__ == "__main__":
    main()
