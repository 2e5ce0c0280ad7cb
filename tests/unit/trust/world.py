"""A small trust world for tests: a root, helpers to accredit, register and forge statements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from civicstack._crypto import PrivateKey, sign_jwt
from civicstack.trust import (
    Accreditation,
    Authority,
    Purpose,
    RelyingPartyRegistration,
    RootAuthority,
    TrustRegistry,
    sign_accreditation,
    sign_registration,
)

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
YEAR = 365 * DAY
ROOT_ID = "https://gov.example"
PID = "https://gov.example/vct/pid"
RTW = "https://gov.example/vct/right-to-work"
PID_CLAIMS = ("given_name", "family_name", "birthdate", "address", "nationalities", "age_over_18")
FULL_SCOPE: dict[str, tuple[str, ...]] = {PID: PID_CLAIMS, RTW: ("right_to_work", "given_name")}

ROOT_KEY = PrivateKey.generate("ES256")


def forge(key: PrivateKey, typ: str, payload: Mapping[str, Any], kid: str | None = None) -> str:
    """Sign any payload as a statement, bypassing the checks of the sign_* functions."""
    return sign_jwt(key, dict(payload), {"typ": typ, "kid": kid or key.public_key.thumbprint()})


@dataclass
class World:
    """A root with its registry, and helpers that add authorities and relying parties to it."""

    root: RootAuthority = field(
        default_factory=lambda: RootAuthority.create(ROOT_ID, "Government", [ROOT_KEY.public_key])
    )
    registry: TrustRegistry = field(init=False)
    _names: count[int] = field(default_factory=count)

    def __post_init__(self) -> None:
        self.registry = TrustRegistry([self.root])

    @property
    def gov(self) -> Authority:
        """The root, able to sign."""
        return Authority(ROOT_ID, ROOT_KEY)

    def accredit(
        self,
        by: Authority | None = None,
        *,
        scope: Mapping[str, Iterable[str]] | None = None,
        may_accredit: bool = True,
        may_register: bool = False,
        nbf: int = T0,
        exp: int = T0 + YEAR,
        key: PrivateKey | None = None,
        authority: str | None = None,
    ) -> Authority:
        """Accredit a new authority (by the root unless ``by``), add it, and return it."""
        by = by or self.gov
        key = key or PrivateKey.generate("EdDSA")
        authority = authority or f"https://authority-{next(self._names)}.example"
        token = sign_accreditation(
            by,
            authority=authority,
            name=f"Authority {authority}",
            keys=[key.public_key],
            scope=FULL_SCOPE if scope is None else scope,
            now=nbf,
            nbf=nbf,
            exp=exp,
            may_accredit=may_accredit,
            may_register=may_register,
        )
        acc = self.registry.add_accreditation(token)
        return Authority(authority, key, acc)

    def chain(self, depth: int, **leaf: Any) -> list[Authority]:
        """A chain root -> a1 -> ... -> a<depth>; returns the accredited authorities in order."""
        out: list[Authority] = []
        by = self.gov
        for i in range(depth):
            by = self.accredit(by, **(leaf if i == depth - 1 else {}))
            out.append(by)
        return out

    def register(
        self,
        by: Authority | None = None,
        *,
        relying_party: str = "https://employer.example",
        purposes: Iterable[Purpose] | None = None,
        nbf: int = T0,
        exp: int = T0 + YEAR,
        key: PrivateKey | None = None,
    ) -> RelyingPartyRegistration:
        """Register a relying party (by the root unless ``by``) and add the registration."""
        key = key or PrivateKey.generate("EdDSA")
        token = sign_registration(
            by or self.gov,
            relying_party=relying_party,
            name="Acme Employer Ltd",
            keys=[key.public_key],
            purposes=purposes
            or [
                Purpose.create(
                    "right_to_work", "Check your right to work", {RTW: ["right_to_work"]}
                ),
                Purpose.create(
                    "onboarding",
                    "Set up your payroll record",
                    {PID: ["given_name", "family_name", "address"]},
                ),
            ],
            now=nbf,
            nbf=nbf,
            exp=exp,
        )
        return self.registry.register_relying_party(token)


def accreditation_payload(acc: Accreditation, **changes: Any) -> dict[str, Any]:
    """The wire payload of ``acc`` with some members changed (for forging variants)."""
    payload: dict[str, Any] = {
        "iss": acc.accreditor,
        "sub": acc.authority,
        "jti": acc.jti,
        "iat": acc.iat,
        "nbf": acc.nbf,
        "exp": acc.exp,
        "name": acc.name,
        "jwks": acc.keys.to_jwks(),
        "scope": {vct: sorted(c) for vct, c in acc.scope.items()},
        "may_accredit": acc.may_accredit,
        "may_register": acc.may_register,
    }
    payload.update(changes)
    return payload
