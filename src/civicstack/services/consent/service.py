"""The consent service: requests, the citizen's signed answers, withdrawal, coverage.

Three audiences:

* requesters (registered relying parties, by their verifier API key, or the admin acting for
  one) ask for consent about a citizen they know by their pairwise id, read their requests
  and the consents they hold;
* the citizen's wallet, authenticated by a PID presentation made to this service with a nonce
  it handed out (SD-JWT VC + KB-JWT, ``aud`` :attr:`Consents.audience`), pulls its inbox and
  answers with a consent JWS signed by the same key (:mod:`civicstack.consent.signed`);
* data providers and the exchange ask whether one access is covered (:meth:`check_access`,
  :mod:`civicstack.consent.coverage`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from civicstack._crypto import PublicKey
from civicstack.consent import (
    CONSENT_TYP,
    DEFAULT_LIMITS,
    WITHDRAWAL_TYP,
    ConsentRecord,
    ConsentRequest,
    CoveredAccess,
    Limits,
    check_answerable,
    consent_claims,
    decide_access,
    read_signed,
    record_from_request,
    withdrawal_claims,
    withdrawn,
)
from civicstack.consent.nonces import check_nonce, make_nonce
from civicstack.consent.records import check_name
from civicstack.consent.vocabulary import PURPOSES
from civicstack.credential_types import PID_VCT
from civicstack.credentials import VerifiedCredential
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject, check_pairwise_id, subject_of
from civicstack.services.consent.storage import ConsentStore, RequestCaps
from civicstack.services.turn_batches import TurnLookups
from civicstack.services.verifier.api_keys import Caller
from civicstack.trust import Purpose, TrustRegistry
from civicstack.trust.parties import HostedAuthority
from civicstack.types import Clock

__all__ = ["DATA_VCT_PREFIX", "Consents", "IssuedNonce", "PidHolder", "data_vct"]

#: A data-exchange purpose's registration names the data service as its ``vct``:
#: ``urn:civicstack:data:<provider>:<service>``; its ``claims`` are the categories.
DATA_VCT_PREFIX = "urn:civicstack:data:"
#: The DPV purpose a registered purpose maps to when a request names none.
_DEFAULT_DPV_PURPOSE = "dpv:ServiceProvision"


def data_vct(provider: str, service: str) -> str:
    """The ``vct`` naming ``provider``'s data service in a registration."""
    return f"{DATA_VCT_PREFIX}{provider}:{service}"


#: How many of a citizen's consents :meth:`Consents.consent_for` looks through (newest first).
_CONSENTS_SEARCHED = 500


@dataclass(frozen=True)
class IssuedNonce:
    """A nonce for the wallet's next PID presentation to this service."""

    nonce: str
    aud: str
    expires_at: int


@dataclass(frozen=True)
class PidHolder:
    """A citizen as a PID presentation to this service showed them: who, their key, and
    every claim the presentation disclosed."""

    subject: Subject
    key: PublicKey
    presentation: str
    claims: Mapping[str, Any] = field(default_factory=dict)


class Consents:
    """The consent service (see the module docstring)."""

    def __init__(
        self,
        *,
        store: ConsentStore,
        registry: Callable[[float], TrustRegistry],
        relying_party: Callable[[str], HostedAuthority],
        authenticate: Callable[[str | None], Caller],
        verify: Callable[[str, str, str], VerifiedCredential],
        pairwise: Callable[[str, Subject], str],
        clock: Clock,
        base_url: str,
        nonce_key: bytes,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """``nonce_key``: the key nonces for PID presentations are made and checked with
        (:mod:`civicstack.consent.nonces`)."""
        self.store = store
        self._current: TurnLookups[str, ConsentRecord] = TurnLookups(store.latest_many)
        self._nonce_key = nonce_key
        self._registry = registry
        self._relying_party = relying_party
        self._authenticate = authenticate
        self._verify = verify
        self._pairwise = pairwise
        self.clock = clock
        self.audience = base_url.rstrip("/") + "/consents"
        self.limits = limits

    # --- who calls -------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Caller:
        """A requester's API key (the verifier's), or the admin token acting for one."""
        return self._authenticate(token)

    def _registered(self, name: str, now: int) -> HostedAuthority:
        """A hosted relying party, registered and not suspended at ``now``."""
        hosted = self._relying_party(check_name(name, "the requester"))
        self._registry(1).relying_party(hosted.identifier, now)
        return hosted

    # --- requesters ------------------------------------------------------------------------

    def create_request(
        self,
        caller: Caller,
        *,
        subject: object,
        provider: object,
        purpose: object,
        categories: object,
        once: object = False,
        valid_days: object = 365,
        dpv_purpose: object = None,
        requester: str | None = None,
    ) -> ConsentRequest:
        """Ask the citizen ``subject`` (the requester's pairwise id for them) for consent to
        fetch ``categories`` from ``provider`` for ``purpose``.

        1. the requester acting is registered and not suspended;
        2. its registration has ``purpose`` with a data service of ``provider`` allowing every
           category (``overasking`` otherwise);
        3. the request is kept within the caps (per citizen, per requester, per minute).
        """
        now = self.clock.now()
        name = caller.acting_for(requester)
        if name is None:
            raise InputError("invalid_request", "name the requester (the admin acts for one)")
        # 1. registered, not suspended
        hosted = self._relying_party(check_name(name, "the requester"))
        provider_name = check_name(provider, "the provider")
        purpose_id = check_name(purpose, "the purpose")
        request = ConsentRequest.create(
            _random_id(),
            requester=hosted.name,
            provider=provider_name,
            purpose=purpose_id,
            dpv_purpose=_DEFAULT_DPV_PURPOSE if dpv_purpose is None else dpv_purpose,
            categories=categories,
            subject=subject,
            once=once,  # type: ignore[arg-type]  # checked by ConsentRequest.create
            valid_days=valid_days,
            now=now,
            limits=self.limits,
        )
        # 2. within a registered purpose: a data service of this provider, these categories
        self.registered_purpose(hosted, purpose_id, provider_name, request.categories, now)
        # 3. kept, within the caps
        caps = RequestCaps(
            per_subject=self.limits.pending_per_subject,
            per_requester=self.limits.pending_per_requester,
            per_minute=self.limits.requests_per_minute,
        )
        self.store.add_request(request, caps=caps, now=now)
        return request

    def invite(
        self,
        requester: object,
        *,
        provider: object,
        purpose: object,
        presentation: object,
        nonce: object,
        valid_days: object = 365,
    ) -> ConsentRequest:
        """The citizen asks ``requester`` to ask them: a request in their own inbox, exactly as
        the requester's registered ``purpose`` with a data service of ``provider`` allows (its
        categories), about the citizen the PID presentation names — for a requester that does
        not know the citizen's pairwise id yet (tell us once: "tell my council"). The request
        is then answered like any other (:meth:`answer`).
        """
        now = self.clock.now()
        hosted = self._registered(check_name(requester, "the requester"), now)
        provider_name = check_name(provider, "the provider")
        purpose_id = check_name(purpose, "the purpose")
        registry = self._registry(1)
        prefix = f"{DATA_VCT_PREFIX}{provider_name}:"
        categories = sorted(
            {
                c
                for reg in registry.relying_party(hosted.identifier, now)
                if purpose_id in reg.purposes
                for vct, claims in reg.purposes[purpose_id].claims.items()
                if vct.startswith(prefix)
                for c in claims
            }
        )
        if not categories:
            raise VerificationError(
                "overasking",
                f"{hosted.name} is not registered to fetch data from {provider_name} "
                f"for {purpose_id!r}",
            )
        holder = self.holder(presentation, nonce)
        request = ConsentRequest.create(
            _random_id(),
            requester=hosted.name,
            provider=provider_name,
            purpose=purpose_id,
            dpv_purpose=_DEFAULT_DPV_PURPOSE,
            categories=categories,
            subject=self._pairwise(hosted.name, holder.subject),
            once=False,
            valid_days=valid_days,
            now=now,
            limits=self.limits,
        )
        self.registered_purpose(hosted, purpose_id, provider_name, request.categories, now)
        caps = RequestCaps(
            per_subject=self.limits.pending_per_subject,
            per_requester=self.limits.pending_per_requester,
            per_minute=self.limits.requests_per_minute,
        )
        self.store.add_request(request, caps=caps, now=now)
        return request

    def registered_purpose(
        self,
        hosted: HostedAuthority,
        purpose: str,
        provider: str,
        categories: Sequence[str],
        now: int,
    ) -> Purpose:
        """The registered purpose that allows fetching ``categories`` from ``provider``:
        ``relying_party_suspended``, ``unregistered_relying_party`` or ``overasking``."""
        registry = self._registry(1)
        registrations = registry.relying_party(hosted.identifier, now)
        prefix = f"{DATA_VCT_PREFIX}{provider}:"
        services = {
            vct
            for reg in registrations
            if purpose in reg.purposes
            for vct in reg.purposes[purpose].claims
            if vct.startswith(prefix)
        }
        if not services:
            raise VerificationError(
                "overasking",
                f"{hosted.name} is not registered to fetch data from {provider} for {purpose!r}",
            )
        first: CivicError | None = None
        for vct in sorted(services):
            try:
                reg = registry.check_request(
                    hosted.identifier, purpose, {vct: list(categories)}, now
                )
            except VerificationError as exc:
                first = first or exc
                continue
            return reg.purposes[purpose]
        assert first is not None
        raise first

    def requests(
        self, caller: Caller, *, requester: str | None = None, before: int | None = None
    ) -> Sequence[ConsentRequest]:
        """The requests the requester acting made, newest first (a page)."""
        name = self._acting(caller, requester)
        return self.store.requests_of(name, limit=self.limits.page_size, before=before)

    def request(self, caller: Caller, request_id: str) -> ConsentRequest:
        """One of the acting requester's requests (``not_found`` for anyone else's)."""
        found = self.store.request(_checked_id(request_id, "not_found"))
        if caller.relying_party is not None and caller.relying_party != found.requester:
            raise CivicError("not_found", "no such consent request")
        return found

    def consents(
        self, caller: Caller, *, requester: str | None = None, before: int | None = None
    ) -> Sequence[ConsentRecord]:
        """The consents the requester acting holds (current versions), newest first."""
        name = self._acting(caller, requester)
        return self.store.consents_of(name, limit=self.limits.page_size, before=before)

    def record(self, caller: Caller, consent_id: str) -> tuple[ConsentRecord, ...]:
        """Every version of a consent, for its requester (or the admin)."""
        versions = self.store.versions(_checked_id(consent_id, "consent_not_found"))
        if caller.relying_party is not None and caller.relying_party != versions[-1].requester:
            raise CivicError("consent_not_found", "no consent with that id")
        return tuple(versions)

    def _acting(self, caller: Caller, requester: str | None) -> str:
        name = caller.acting_for(requester)
        if name is None:
            raise InputError("invalid_request", "name the requester (the admin acts for one)")
        return check_name(name, "the requester")

    # --- the citizen's wallet --------------------------------------------------------------

    def nonce(self, *, audience: str | None = None) -> IssuedNonce:
        """A fresh nonce for one PID presentation to :attr:`audience` (or to another of the
        platform's citizen-facing services, ``audience``: the change service shares these
        nonces and this presentation check)."""
        aud = audience or self.audience
        expires_at = self.clock.now() + self.limits.nonce_lifetime
        nonce = make_nonce(
            self._nonce_key, aud, expires_at=expires_at, salt=secrets.token_bytes(12)
        )
        return IssuedNonce(nonce, aud, expires_at)

    def holder(
        self, presentation: object, nonce: object, *, audience: str | None = None
    ) -> PidHolder:
        """Who presents: a PID presentation to :attr:`audience` (or ``audience``) with a nonce
        of ours, used once.

        1. the nonce is ours, unused and fresh; 2. the presentation verifies (issuer chain,
        status, key binding to this audience and nonce); 3. it is a PID naming its subject
        (``personal_administrative_number``, ``issuing_country``); 4. the nonce is used up.
        """
        if not isinstance(nonce, str) or not 0 < len(nonce) <= 64:
            raise InputError("invalid_request", "nonce is the one this service handed out")
        if not isinstance(presentation, str) or not presentation:
            raise InputError("invalid_request", "presentation is an SD-JWT VC with a KB-JWT")
        if len(presentation) > self.limits.presentation_bytes:
            raise InputError(
                "too_large", f"a presentation is at most {self.limits.presentation_bytes} bytes"
            )
        now = self.clock.now()
        aud = audience or self.audience
        # 1. our nonce (for this audience), fresh, unused
        expires_at = check_nonce(self._nonce_key, nonce, aud, now=now)
        self.store.check_nonce(nonce, now)
        # 2. verified, bound to us and to this nonce
        verified = self._verify(presentation, aud, nonce)
        # 3. a PID that names its subject, with the holder's key
        if verified.vct != PID_VCT:
            raise VerificationError("invalid_credential", f"present a PID ({PID_VCT})")
        if verified.holder is None:
            raise VerificationError("key_binding_required", "the PID must be key-bound")
        subject = subject_of(verified.claims)
        # 4. used up (a concurrent replay loses here)
        self.store.take_nonce(nonce, expires_at=expires_at, now=now)
        return PidHolder(subject, verified.holder, presentation, dict(verified.claims))

    def inbox(
        self, presentation: object, nonce: object
    ) -> tuple[Sequence[ConsentRequest], Sequence[ConsentRecord]]:
        """The citizen's pending requests and their consents, for their wallet.

        The requester named the citizen by its own pairwise id: for every requester with
        pending requests the platform computes the citizen's id there and matches.
        """
        holder = self.holder(presentation, nonce)
        now = self.clock.now()
        requesters = self.store.pending_requesters(now, limit=self.limits.inbox_requesters)
        pairs = [(r, self._pairwise(r, holder.subject)) for r in requesters]
        pending = self.store.pending_for(pairs, now, limit=self.limits.page_size)
        log_subject = self._pairwise(ACCESS_LOG_SECTOR, holder.subject)
        met = {(r.requester, r.subject) for r in pending}
        if met:
            self.store.meet(met, log_subject)
        consents = self.store.consents_about(log_subject, limit=self.limits.page_size)
        return pending, consents

    def answer(
        self, request_id: str, *, presentation: object, nonce: object, signed: object
    ) -> ConsentRecord:
        """Record the citizen's answer (given or refused) to a request.

        1. the request waits for an answer; 2. the PID presentation (nonce used once) names the
        citizen the request is about (``wrong_subject`` otherwise); 3. the requester is still
        registered and not suspended; 4. the consent JWS is signed by the PID's key and repeats
        the request exactly, with the same nonce; 5. version 1 is kept, the request closed, in
        one transaction.
        """
        now = self.clock.now()
        # 1. answerable
        request = self.store.request(_checked_id(request_id, "not_found"))
        check_answerable(request, now)
        # 2. the citizen it is about
        holder = self.holder(presentation, nonce)
        if self._pairwise(request.requester, holder.subject) != request.subject:
            raise CivicError("wrong_subject", "this consent request is about someone else")
        # 3. the requester may still ask
        self._registered(request.requester, now)

        # 4. signed by the bound key, exactly what was asked
        def expected(payload: Mapping[str, Any]) -> dict[str, Any]:
            decision = payload.get("decision")
            return consent_claims(
                request,
                "refused" if decision == "refused" else "given",
                aud=self.audience,
                nonce=str(nonce),
                iat=payload.get("iat"),  # type: ignore[arg-type]  # read_signed checks it
            )

        payload = read_signed(
            signed,
            holder.key,
            typ=CONSENT_TYP,
            expected=expected,
            now=now,
            max_age=self.limits.nonce_lifetime,
            max_bytes=self.limits.jws_bytes,
        )
        # 5. kept, once
        record = record_from_request(
            request,
            payload["decision"],
            consent_id=_random_id(),
            provider_subject=self._pairwise(request.provider, holder.subject),
            log_subject=self._pairwise(ACCESS_LOG_SECTOR, holder.subject),
            holder_jwk=holder.key.to_jwk(),
            signature=str(signed),
            presentation=holder.presentation,
            now=now,
        )
        self.store.answer(record, now=now)
        return record

    def withdraw(
        self,
        consent_id: str,
        *,
        signed: object,
        presentation: object = None,
        nonce: object = None,
    ) -> ConsentRecord:
        """Withdraw a consent, effective at once: a withdrawal JWS signed by the key the
        consent was given with, or by the key of a fresh PID presentation of the same citizen
        (a wallet that lost that key)."""
        now = self.clock.now()
        record = self.store.latest(_checked_id(consent_id, "consent_not_found"))
        state = record.state_at(now)
        if state != "given":  # said before any signature is read: nothing left to withdraw
            raise CivicError("consent_not_active", f"the consent is {state}: nothing to withdraw")
        if presentation is None and nonce is None:
            key = PublicKey.from_jwk(dict(record.holder_jwk))
        else:
            holder = self.holder(presentation, nonce)
            if self._pairwise(record.requester, holder.subject) != record.requester_subject:
                raise CivicError("wrong_subject", "this consent is someone else's")
            key = holder.key
        read_signed(
            signed,
            key,
            typ=WITHDRAWAL_TYP,
            expected=lambda p: withdrawal_claims(record, aud=self.audience, iat=p.get("iat")),  # type: ignore[arg-type]
            now=now,
            max_age=self.limits.nonce_lifetime,
            max_bytes=self.limits.jws_bytes,
        )
        after = withdrawn(record, withdrawal=str(signed), now=now)
        self.store.add_version(after, previous=record.version)
        return after

    # --- providers and the exchange ----------------------------------------------------------

    def check_access(
        self,
        consent_id: str,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purpose: str,
        categories: Sequence[str],
        now: int,
        use: bool = True,
    ) -> CoveredAccess:
        """Whether consent ``consent_id`` covers this access at ``now``
        (:func:`civicstack.consent.decide_access`); a "once" consent is used up by it, in the
        same transaction, unless ``use`` is false (a check before the data is in hand). Raises
        ``consent_not_found``, ``consent_not_active`` or ``outside_consent``."""
        checked = _checked_id(consent_id, "consent_not_found")

        def decide(record: ConsentRecord) -> CoveredAccess:
            return decide_access(
                record,
                requester=requester,
                requester_subject=requester_subject,
                provider=provider,
                purpose=purpose,
                categories=categories,
                now=now,
            )

        if not use:
            return decide(self.store.latest(checked))
        return self.store.use(checked, decide, now=now)

    async def check_access_async(
        self,
        consent_id: str,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purpose: str,
        categories: Sequence[str],
        now: int,
    ) -> CoveredAccess:
        """:meth:`check_access` without using anything up (``use=False``), on an event loop:
        the consent is read with the other consents the loop's turn asks for, in one read."""
        checked = _checked_id(consent_id, "consent_not_found")
        try:
            record: ConsentRecord | None = await self._current.get(checked)
        except CivicError:
            # A record that cannot be read (say, a seal that does not open) fails its whole
            # turn's read: each consent of the turn is then read alone, failing only itself.
            record = self.store.latest(checked)
        if record is None:
            raise CivicError("consent_not_found", "no consent with that id")
        return decide_access(
            record,
            requester=requester,
            requester_subject=requester_subject,
            provider=provider,
            purpose=purpose,
            categories=categories,
            now=now,
        )

    def covers(
        self,
        caller: Caller,
        consent_id: str,
        *,
        requester: object,
        requester_subject: object,
        provider: object,
        purpose: object,
        categories: object,
    ) -> CoveredAccess:
        """A provider's question, over HTTP: would this access be covered now? It uses
        nothing up (the exchange's fetch does, through :meth:`check_access`)."""
        provider_name = check_name(provider, "the provider")
        caller.acting_for(provider_name)
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise InputError("invalid_request", "categories are a list of dpv-pd: terms")
        if len(categories) > self.limits.categories:
            raise InputError("too_large", f"at most {self.limits.categories} categories")
        record = self.store.latest(_checked_id(consent_id, "consent_not_found"))
        return decide_access(
            record,
            requester=check_name(requester, "the requester"),
            requester_subject=check_pairwise_id(requester_subject, "requester_subject"),
            provider=provider_name,
            purpose=check_name(purpose, "the purpose"),
            categories=categories,
            now=self.clock.now(),
        )

    def log_subject_for(self, requester: str, requester_subject: str) -> str | None:
        """The access-log handle of the citizen ``requester`` knows as ``requester_subject``,
        if the platform has met them through a consent or consent request naming that id."""
        return self.store.log_subject(requester, requester_subject)

    def consent_for(
        self,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purposes: Sequence[str],
        category: str,
        now: int,
    ) -> tuple[str, str] | None:
        """The consent a link to one category of data names implicitly (a thin event's link):
        among the citizen's consents to ``requester`` for ``provider``'s data under one of
        ``purposes`` naming ``category``, one given and current at ``now`` (and not used up),
        else the newest of them, as (id, purpose); None if the citizen gave none."""
        log_subject = self.store.log_subject(requester, requester_subject)
        if log_subject is None:
            return None
        candidates = [
            record
            for record in self.store.consents_about(log_subject, limit=_CONSENTS_SEARCHED)
            if record.requester == requester
            and record.provider == provider
            and record.purpose in purposes
            and category in record.categories
            and record.requester_subject == requester_subject
        ]
        for record in candidates:  # newest first
            if (
                record.state_at(now) == "given"
                and record.valid_from <= now
                and not (record.once and record.used_at is not None)
            ):
                return record.id, record.purpose
        return (candidates[0].id, candidates[0].purpose) if candidates else None

    @staticmethod
    def dpv_purposes() -> Mapping[str, str]:
        """The DPV purposes a request may name, with their labels."""
        return PURPOSES


def _random_id() -> str:
    # Never starting with "-": a citizen types these ids on a command line, which would take
    # one for an option (one id in 64 did, and `civic wallet consent give ID` failed).
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return value


def _checked_id(value: object, code: str) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 32
        or not value.replace("-", "").replace("_", "").isalnum()
        or not value.isascii()
    ):
        raise CivicError(code, "no such id")
    return value
