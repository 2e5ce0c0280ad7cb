"""What the library ships for its users' own tests: a fixed clock, fresh keys, a fetcher serving
from memory, and a whole trust world in memory.

A :class:`World` is a root authority with its :class:`~civicstack.trust.TrustRegistry`; it
accredits authorities and registers relying parties (with their purposes) in memory, signing
every statement as the platform does. :meth:`World.populated` adds a :class:`Cast`: by default
the world ``civic up`` seeds, a PID issuer (``passport-office``), a right-to-work issuer
(``home-office``) and four relying parties (``employer``, ``shop``, ``landlord``, ``bank``). The
same cast seeds a :class:`~civicstack.platform.Platform` for tests that need storage or HTTP
(:meth:`Cast.seed`). A wallet for the world's citizen comes from :meth:`World.wallet`::

    from civicstack.credential_types import PID_VCT, pid_claims
    from civicstack.credentials import verify_presentation
    from civicstack.testing import World
    from civicstack.wallet import PresentationRequest

    def test_the_shop_learns_only_the_age(tmp_path):
        world = World.populated()
        wallet = world.wallet(tmp_path / "wallet")
        claims = pid_claims(given_name="Amara", family_name="Okafor", birthdate="1990-05-17",
                            issuing_authority="HM Passport Office", issuing_country="GB",
                            now=world.clock.now())
        pid = world.issue("passport-office", claims, holder=wallet.holder_key)
        wallet.add_credential(pid, trust=world.registry)
        shop = world.relying_parties["shop"].relying_party
        request = PresentationRequest.create(shop, "age_check", {PID_VCT: ["age_over_18"]},
                                             nonce="n-1")
        answer = wallet.present(request, trust=world.registry, consent=lambda summary: True)
        seen = verify_presentation(answer.tokens[PID_VCT], trust=world.registry, aud=shop,
                                   nonce="n-1", now=world.clock.now(), status=None)
        assert set(seen.claims) == {"age_over_18"}

For negative tests, :func:`forge` signs any payload as a statement, bypassing every check the
``sign_*`` functions make, and :func:`accreditation_payload` gives an accreditation's payload to
change. Nothing in civicstack itself imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from civicstack._crypto import PrivateKey, PublicKey, generate_private_jwk, sign_jwt
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT, pid_disclosable
from civicstack.credentials import issue_credential
from civicstack.demo.world import (
    AUTHORITIES,
    REGISTRARS,
    RELYING_PARTIES,
    ROOT,
    AuthorityCast,
    PurposeSpec,
    RegistrarCast,
    RelyingPartyCast,
    purposes_of,
    seed_world,
)
from civicstack.errors import CivicError
from civicstack.pairwise import Subject
from civicstack.platform import Platform
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
from civicstack.wallet import Wallet

__all__ = [
    "DAY",
    "FAST_KDF",
    "FULL_SCOPE",
    "ROOT_ID",
    "ROOT_KEY",
    "T0",
    "YEAR",
    "Cast",
    "ConsentGiver",
    "FixedClock",
    "InMemoryFetcher",
    "PurposeSpec",
    "World",
    "accreditation_payload",
    "forge",
    "generate_private_jwk",
]

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
YEAR = 365 * DAY
#: The in-memory root's identifier, and its key (ES256; made once per process).
ROOT_ID = "https://gov.example"
ROOT_KEY = PrivateKey.generate("ES256")
#: What :meth:`World.accredit` accredits for unless told otherwise.
FULL_SCOPE: dict[str, tuple[str, ...]] = {
    PID_VCT: ("given_name", "family_name", "birthdate", "address", "nationalities", "age_over_18"),
    RIGHT_TO_WORK_VCT: ("right_to_work", "given_name"),
}
#: A cheap Argon2id for wallets made in tests (the default is slow on purpose).
FAST_KDF: dict[str, Any] = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}


@dataclass
class FixedClock:
    """A clock that stands still until told to move."""

    t: int = T0

    def now(self) -> int:
        """The fixed time."""
        return self.t

    def advance(self, seconds: int) -> None:
        """Move the clock forward."""
        self.t += seconds


@dataclass
class InMemoryFetcher:
    """A :class:`civicstack.types.Fetcher` serving ``documents`` (URL -> body) from memory.

    It keeps the fetcher contract: a missing URL or a body over ``max_bytes`` is
    ``fetch_failed``. ``requests`` records every ``(url, accept)`` asked for, so tests can
    see what was (and was not) fetched.
    """

    documents: dict[str, bytes | str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The stored body for ``url``."""
        self.requests.append((url, accept))
        body = self.documents.get(url)
        if body is None:
            raise CivicError("fetch_failed", f"{url}: not found")
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > max_bytes:
            raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
        return raw


@dataclass(frozen=True)
class Cast:
    """Who is in a world: the root ``(name, display name)``, the authorities accredited to issue
    (name -> display name, vct, claims) and the relying parties registered with their purposes
    (name -> display name, purposes). By default, the world ``civic up`` seeds."""

    root: tuple[str, str] = ROOT
    authorities: AuthorityCast = field(default_factory=lambda: dict(AUTHORITIES))
    relying_parties: RelyingPartyCast = field(default_factory=lambda: dict(RELYING_PARTIES))
    registrars: RegistrarCast = field(default_factory=lambda: dict(REGISTRARS))

    def seed(self, platform: Platform) -> bool:
        """Set this cast up on ``platform`` (its root, accreditations, registrations) unless it
        has a root already, as a restarted platform does; True if it was set up."""
        return seed_world(
            platform,
            root=self.root,
            authorities=self.authorities,
            relying_parties=self.relying_parties,
            registrars=self.registrars,
        )


def forge(key: PrivateKey, typ: str, payload: Mapping[str, Any], kid: str | None = None) -> str:
    """Sign any payload as a statement, bypassing the checks of the sign_* functions."""
    return sign_jwt(key, dict(payload), {"typ": typ, "kid": kid or key.public_key.thumbprint()})


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


@dataclass
class World:
    """A root with its registry, the authorities and relying parties added to it, and a clock.

    ``World()`` holds the root only; :meth:`accredit`, :meth:`chain` and :meth:`register` add
    statements one by one, :meth:`populated` a whole :class:`Cast`.
    """

    root: RootAuthority = field(
        default_factory=lambda: RootAuthority.create(ROOT_ID, "Government", [ROOT_KEY.public_key])
    )
    clock: FixedClock = field(default_factory=FixedClock)
    registry: TrustRegistry = field(init=False)
    #: The cast's issuing authorities by name, able to sign.
    authorities: dict[str, Authority] = field(default_factory=dict)
    #: The cast's relying parties by name.
    relying_parties: dict[str, RelyingPartyRegistration] = field(default_factory=dict)
    _names: count[int] = field(default_factory=count)

    def __post_init__(self) -> None:
        self.registry = TrustRegistry([self.root])

    @classmethod
    def populated(cls, cast: Cast | None = None, *, clock: FixedClock | None = None) -> World:
        """A world with ``cast`` (by default the demo world's) accredited and registered."""
        world = cls(clock=clock or FixedClock())
        cast = cast or Cast()
        for name, (_, vct, claims) in cast.authorities.items():
            world.authorities[name] = world.accredit(
                scope={vct: claims},
                may_accredit=False,
                nbf=world.clock.now(),
                exp=world.clock.now() + YEAR,
                authority=f"{ROOT_ID}/issuers/{name}",
            )
        for name in cast.relying_parties:
            world.relying_parties[name] = world.register(
                relying_party=f"{ROOT_ID}/verifiers/{name}",
                purposes=purposes_of(name, cast.relying_parties),
                nbf=world.clock.now(),
                exp=world.clock.now() + YEAR,
            )
        return world

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
                    "right_to_work",
                    "Check your right to work",
                    {RIGHT_TO_WORK_VCT: ["right_to_work"]},
                ),
                Purpose.create(
                    "onboarding",
                    "Set up your payroll record",
                    {PID_VCT: ["given_name", "family_name", "address"]},
                ),
            ],
            now=nbf,
            nbf=nbf,
            exp=exp,
        )
        return self.registry.register_relying_party(token)

    def issue(
        self, issuer: str, claims: Mapping[str, Any], *, holder: PublicKey, exp: int | None = None
    ) -> str:
        """A credential from the cast's authority ``issuer`` (of the type it is accredited
        for), bound to ``holder``, issued now and valid for a year unless ``exp``."""
        authority = self.authorities[issuer]
        assert authority.accreditation is not None
        (vct,) = authority.accreditation.scope
        now = self.clock.now()
        return issue_credential(
            authority.key,
            iss=authority.id,
            vct=vct,
            claims=claims,
            holder=holder,
            disclosable=pid_disclosable(claims) if vct == PID_VCT else list(claims),
            iat=now,
            exp=now + YEAR if exp is None else exp,
        )

    def wallet(
        self,
        path: str | Path,
        passphrase: str = "test wallet",  # noqa: S107 - a test wallet's, never a real one
    ) -> Wallet:
        """A new wallet in ``path`` on the world's clock, trusting the world's root."""
        wallet = Wallet.create(path, passphrase, clock=self.clock, kdf=dict(FAST_KDF))
        wallet.pin_trust_anchor(self.root)
        return wallet


# --- consents given end to end through the consent service (issue 11) --------------------------


class ConsentGiver:
    """Citizens answering consent requests through ``platform.consents``, as their wallets do:
    the requester asks (the admin acting for it), the citizen's wallet presents a PID (issued to
    a key of its own by ``passport-office``) with the service's nonce and signs its answer with
    that key; a withdrawal is signed with the same key. For tests and benchmarks that need real
    consents without a wallet on disk (``platform`` is a :class:`~civicstack.platform.Platform`
    seeded with the demo world)."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self._keys: dict[Subject, PrivateKey] = {}
        self._pids: dict[Subject, str] = {}
        self._givers: dict[str, Subject] = {}

    def key(self, subject: Subject) -> PrivateKey:
        """The key ``subject``'s wallet holds its PID with."""
        if subject not in self._keys:
            self._keys[subject] = PrivateKey.generate()
        return self._keys[subject]

    def pid(self, subject: Subject) -> str:
        """``subject``'s PID, bound to :meth:`key` (issued once)."""
        if subject not in self._pids:
            from civicstack.demo.story import AMARA

            claims = {
                **AMARA,
                "personal_administrative_number": subject.number,
                "issuing_country": subject.country,
            }
            self._pids[subject] = self.platform.authorities.issue(
                "passport-office",
                vct=PID_VCT,
                claims=claims,
                holder=self.key(subject).public_key,
            ).credential
        return self._pids[subject]

    def proof(self, subject: Subject, *, audience: str | None = None) -> tuple[str, str, str]:
        """A fresh nonce of the consent service (for ``audience``, default its own) and
        ``subject``'s PID presented with it: ``(presentation, nonce, aud)``."""
        from civicstack.credentials import present_credential

        issued = self.platform.consents.nonce(audience=audience)
        presentation = present_credential(
            self.pid(subject),
            disclose=["personal_administrative_number", "issuing_country"],
            holder=self.key(subject),
            aud=issued.aud,
            nonce=issued.nonce,
            now=self.platform.clock.now(),
        )
        return presentation, issued.nonce, issued.aud

    def ask(
        self,
        subject: Subject,
        *,
        requester: str,
        provider: str,
        purpose: str,
        categories: Iterable[str],
        once: bool = False,
        valid_days: int = 30,
    ) -> Any:
        """The consent request ``requester`` sends ``subject`` (a ``ConsentRequest``)."""
        from civicstack.services.verifier import Caller

        return self.platform.consents.create_request(
            Caller(None),
            requester=requester,
            subject=self.platform.pairwise_id(requester, subject),
            provider=provider,
            purpose=purpose,
            categories=list(categories),
            once=once,
            valid_days=valid_days,
        )

    def answer(self, subject: Subject, request: Any, decision: str = "given") -> Any:
        """``subject``'s signed answer to ``request``, recorded (a ``ConsentRecord``)."""
        from civicstack.consent import CONSENT_TYP, consent_claims

        presentation, nonce, aud = self.proof(subject)
        claims = consent_claims(
            request,
            decision,  # type: ignore[arg-type]
            aud=aud,
            nonce=nonce,
            iat=self.platform.clock.now(),
        )
        signed = sign_jwt(self.key(subject), claims, {"typ": CONSENT_TYP})
        record = self.platform.consents.answer(
            request.id, presentation=presentation, nonce=nonce, signed=signed
        )
        self._givers[record.id] = subject
        return record

    def give(self, subject: Subject, **asked: Any) -> str:
        """A consent asked by ``requester`` and given by ``subject`` (see :meth:`ask`); its id."""
        return str(self.answer(subject, self.ask(subject, **asked)).id)

    def withdraw(self, consent_id: str) -> Any:
        """Withdraw a consent given through :meth:`give`, signed with the giver's key."""
        from civicstack.consent import WITHDRAWAL_TYP, withdrawal_claims

        record = self.platform.consent_store.latest(consent_id)
        claims = withdrawal_claims(
            record, aud=self.platform.consents.audience, iat=self.platform.clock.now()
        )
        signed = sign_jwt(self.key(self._givers[consent_id]), claims, {"typ": WITHDRAWAL_TYP})
        return self.platform.consents.withdraw(consent_id, signed=signed)
