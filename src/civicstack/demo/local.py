"""The issue-2 story, told by the real components in one process: ``civic demo``.

A root (the sovereign government) accredits a passport office (PID with ``age_over_*``
predicates) and a home office (right to work) and registers an employer and a shop; a citizen's
wallet receives a PID and a right-to-work credential; the employer and the shop verify what the
wallet presents with her consent (the shop learns ``age_over_18`` and nothing else); an
overasking request is refused before she is asked; the passport office revokes her PID and the
shop's next check refuses it.

Nothing is simulated: keys are generated and wrapped, statements signed and verified, the status
list signed and read back from the database. Only time is moved on, once, past the shop's cache of
the status list (its ``ttl``), instead of waiting five minutes.

:func:`tell` reports each :class:`Step` as it happens and checks that the story went as told: a
step that succeeds when it should be refused (or the reverse) raises ``internal_error``, so
``civic demo`` exits non-zero if the platform misbehaves.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_CHECK_CLAIMS, RIGHT_TO_WORK_VCT
from civicstack.demo.story import (
    AMARA,
    AMARA_RIGHT_TO_WORK,
    Step,
    Story,
    consent_step,
    expect_refusal,
    history_step,
    shown,
)
from civicstack.demo.world import AUTHORITIES, RELYING_PARTIES, ROOT, purposes_of
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.services.authorities import IssuedCredential
from civicstack.trust import RelyingPartyRegistration
from civicstack.wallet import ConsentSummary, CredentialQuery, PresentationRequest, Wallet

#: How far the story moves time on before the shop checks again (past the list's ttl of 300 s).
CACHE_EXPIRY = 301


class ShiftedClock:
    """The real time plus an offset that the story can move on."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        """The shifted time."""
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> None:
        """Move on by ``seconds``."""
        self.offset += seconds


@dataclass
class _Cast:
    """Who plays in the story."""

    platform: Platform
    clock: ShiftedClock
    step: Callable[[Step], None]
    employer: RelyingPartyRegistration | None = None
    shop: RelyingPartyRegistration | None = None
    consents: list[ConsentSummary] = field(default_factory=list)

    def consent(self, summary: ConsentSummary) -> bool:
        """Amara reads what would leave her device, and agrees."""
        self.consents.append(summary)
        self.step(consent_step(summary, self.name_of(summary.registrar)))
        return True

    def name_of(self, identifier: str) -> str:
        """An authority's display name, from its identifier."""
        hosted = self.platform.authority_store.by_identifier(identifier)
        return hosted.display_name if hosted is not None else identifier


def tell(
    platform: Platform, wallet_path: Path, clock: ShiftedClock, report: Callable[[Step], None]
) -> Story:
    """Run the story on an empty ``platform``, reporting each step as it completes."""
    story = Story()

    def step(s: Step) -> None:
        story.steps.append(s)
        report(s)

    cast = _Cast(platform, clock, step)
    _trust_framework(cast)
    wallet, pid = _wallet(cast, wallet_path)
    _employer(cast, wallet, story)
    _shop(cast, wallet, story)
    _revocation(cast, wallet, pid)
    _history(cast, wallet)
    return story


def _trust_framework(cast: _Cast) -> None:
    a, step = cast.platform.authorities, cast.step
    root = a.init_root(*ROOT)
    step(
        Step(
            f"The root authority is set up: {root.display_name}",
            (f"identifier {root.identifier}", f"key {root.active_key.alg} {root.active_key.kid}"),
        )
    )
    for name, (display, vct, claims) in AUTHORITIES.items():
        accreditation = a.accredit(name, scope={vct: list(claims)}, display_name=display)
        step(
            Step(
                f"{root.display_name} accredits {display} to attest {vct}",
                (f"identifier {accreditation.authority}", f"{len(claims)} claims in scope"),
            )
        )
    registered = {
        name: a.register(name, purposes=purposes_of(name), display_name=display)
        for name, (display, _) in RELYING_PARTIES.items()
    }
    cast.employer, cast.shop = registered["employer"], registered["shop"]
    step(
        Step(
            "Relying parties are registered with their purposes",
            tuple(
                f"{RELYING_PARTIES[name][0]} ({reg.relying_party}): "
                + "; ".join(f"{p.id} -> {', '.join(p.claims)}" for p in RELYING_PARTIES[name][1])
                for name, reg in registered.items()
            ),
        )
    )


def _wallet(cast: _Cast, wallet_path: Path) -> tuple[Wallet, IssuedCredential]:
    a, step = cast.platform.authorities, cast.step
    wallet = Wallet.create(wallet_path, secrets.token_urlsafe(24), clock=cast.clock)
    step(
        Step(
            "Amara creates her wallet on her own device",
            (
                f"holder key {wallet.holder_key.alg} {wallet.holder_key.thumbprint()}",
                "sealed under her passphrase (Argon2id, AES-256-GCM); it never leaves the device",
            ),
        )
    )
    pid = a.issue("passport-office", vct=PID_VCT, claims=AMARA, holder=wallet.holder_key)
    registry = cast.platform.trust_registry()
    stored = wallet.add_credential(pid.credential, trust=registry)
    step(
        Step(
            "HM Passport Office issues Amara's PID into her wallet",
            (
                f"status list entry {pid.status_uri} #{pid.record.idx}",
                "her wallet checked the issuer's accreditation up to HM Government first",
                "the platform keeps who, what type and which status entry: never her claims",
            ),
            tuple(
                (k, shown(stored.claims[k]))
                for k in sorted(stored.claims, key=lambda k: (len(k), k))
                if k.startswith("age_over_")
            ),
        )
    )
    rtw = a.issue(
        "home-office",
        vct=RIGHT_TO_WORK_VCT,
        claims=AMARA_RIGHT_TO_WORK,
        holder=wallet.holder_key,
    )
    wallet.add_credential(rtw.credential, trust=registry)
    step(
        Step(
            "The Home Office issues her right-to-work credential",
            (f"status list entry {rtw.status_uri} #{rtw.record.idx}",),
        )
    )
    return wallet, pid


def _employer(cast: _Cast, wallet: Wallet, story: Story) -> None:
    employer = _cast_member(cast.employer)
    nonce = secrets.token_urlsafe(16)
    answer = wallet.present(
        PresentationRequest.create(
            employer.relying_party,
            "right_to_work",
            [CredentialQuery("rtw", RIGHT_TO_WORK_VCT, tuple(RIGHT_TO_WORK_CHECK_CLAIMS))],
            nonce=nonce,
        ),
        trust=cast.platform.trust_registry(),
        consent=cast.consent,
    )
    seen = cast.platform.verify(answer.tokens["rtw"], aud=employer.relying_party, nonce=nonce)
    story.employer_learned = dict(seen.claims)
    cast.step(
        Step(
            "Acme Ltd verifies: signature, key binding, accreditation chain, status",
            (f"issued by {seen.iss}, holder key proven, status valid",),
            tuple((k, shown(seen.claims[k])) for k in RIGHT_TO_WORK_CHECK_CLAIMS),
        )
    )


def _ask_shop(cast: _Cast, wallet: Wallet, claims: list[str]) -> tuple[str, str]:
    shop = _cast_member(cast.shop)
    nonce = secrets.token_urlsafe(16)
    result = wallet.present(
        PresentationRequest.create(shop.relying_party, "age_check", {PID_VCT: claims}, nonce=nonce),
        trust=cast.platform.trust_registry(),
        consent=cast.consent,
    )
    return result.tokens[PID_VCT], nonce


def _shop(cast: _Cast, wallet: Wallet, story: Story) -> None:
    shop = _cast_member(cast.shop)
    token, nonce = _ask_shop(cast, wallet, ["age_over_18"])
    seen = cast.platform.verify(token, aud=shop.relying_party, nonce=nonce)
    story.shop_learned = dict(seen.claims)
    if set(seen.claims) != {"age_over_18"}:
        raise CivicError("internal_error", f"the shop learned {sorted(seen.claims)}")
    cast.step(
        Step(
            "Corner Shop verifies: over 18, and nothing else",
            ("no name, no birthdate, no address: one disclosed claim",),
            tuple((k, shown(v)) for k, v in seen.claims.items()),
        )
    )
    asked_before = len(cast.consents)
    refusal = expect_refusal(
        "overasking", lambda: _ask_shop(cast, wallet, ["age_over_18", "birthdate"])
    )
    if len(cast.consents) != asked_before:
        raise CivicError("internal_error", "Amara was asked about an overasking request")
    cast.step(
        Step(
            "Corner Shop also asks for her birthdate: her wallet refuses before asking her",
            (refusal.detail,),
            refused=refusal.code,
        )
    )


def _revocation(cast: _Cast, wallet: Wallet, pid: IssuedCredential) -> None:
    shop = _cast_member(cast.shop)
    cast.platform.authorities.set_status(pid.record.id, "revoked")
    cast.step(
        Step(
            "HM Passport Office revokes Amara's PID (her passport was reported stolen)",
            (f"status list entry {pid.status_uri} #{pid.record.idx} now INVALID",),
        )
    )
    cast.clock.advance(CACHE_EXPIRY)
    token, nonce = _ask_shop(cast, wallet, ["age_over_18"])
    refusal = expect_refusal(
        "revoked", lambda: cast.platform.verify(token, aud=shop.relying_party, nonce=nonce)
    )
    cast.step(
        Step(
            "Five minutes later the shop checks again: the revoked PID is refused",
            ("the shop's cached status list had expired (ttl 300 s); it fetched the new one",),
            refused=refusal.code,
        )
    )


def _history(cast: _Cast, wallet: Wallet) -> None:
    cast.step(history_step(wallet))


def _cast_member(registration: RelyingPartyRegistration | None) -> RelyingPartyRegistration:
    if registration is None:
        raise CivicError("internal_error", "the story has not registered its relying parties")
    return registration
