"""The change service (tell us once): reports checked, published and followed.

Who reports:

* a citizen's wallet: a PID presentation to this service with a nonce it handed out (the consent
  service's nonces and presentation check, :meth:`Consents.holder`, shared, not copied) and the
  change signed by the same key (``civicstack-change+jwt``, :mod:`civicstack.changes.signed`);
  a company's change of registered office is reported the same way by one of its officers,
  whose presentation also discloses their name and birth date (:mod:`civicstack.changes.companies`);
* a registrar (births and deaths): a JWS signed by an authority the trust registry accredits for
  ``urn:civicstack:change:<kind>``; or the admin acting for a registrar hosted here, which signs
  with its key and is checked exactly the same way.

Before anything is published (:meth:`Changes.report`, :meth:`Changes.register`):

1. the signature, its type, its freshness and what it binds (audience and nonce, or issuer and
   accreditation scope, and a registrar's ``jti`` used once);
2. the register checks: an address is a current record of the ``address`` register
   (``unknown_address``, ``address_ended``); a company is a current record of ``company``
   and the signer one of its ``officers`` (``unknown_company``, ``not_an_officer``);
3. the report, its event (through the transactional outbox), its new value and its electoral
   roll move are committed together (:meth:`ChangeStore.publish`).

Events about a citizen carry the citizen's :class:`~civicstack.pairwise.Subject`; the
notifications service names them to each organisation by its own pairwise id. A thin event's
link (:data:`EXCHANGE_FETCH`) points at the data exchange's current value of the event's
category from this service: the new value is kept, keyed by this service's own pairwise id of
the citizen, as a hosted record of each of its data services (:data:`VALUE_SERVICES`), so an
organisation fetches it like any other data — under the citizen's consent, logged before
release (``GET /exchange/current/tell-us-once/{category}/{subject}``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote

from civicstack._crypto import sign_jwt
from civicstack.access import DataService
from civicstack.changes import (
    AUTHORITY_KINDS,
    CHANGE_TYP,
    CITIZEN_KINDS,
    ELECTORAL_SECTOR,
    EVENT_CATEGORY,
    NOTICES_SERVICE,
    OFFICER_CLAIMS,
    PROVIDER,
    VALUES_SERVICE,
    Change,
    Placement,
    change_vct,
    check_officer,
    ero_name,
    parse_change,
    read_change,
    registrar_claims,
)
from civicstack.changes.electoral import adult_at
from civicstack.changes.records import (
    Birth,
    ChangedValue,
    ReportProgress,
    RollChange,
    StoredReport,
)
from civicstack.changes.signed import unverified_header
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.events.notices import Notice
from civicstack.pairwise import Subject
from civicstack.registers.canonical import Item
from civicstack.services.changes.storage import ChangeStorage
from civicstack.services.consent.service import Consents, IssuedNonce, PidHolder
from civicstack.trust import TrustRegistry
from civicstack.trust.signing import Authority
from civicstack.types import Clock

__all__ = [
    "EXCHANGE_FETCH",
    "OFFICER_CLAIMS",
    "PID_CLAIMS",
    "VALUE_SERVICES",
    "ChangeLimits",
    "Changes",
    "ReportStatus",
]

#: Where a thin event points: the data exchange's fetch of the category from the change
#: service, for the citizen the organisation knows by ``{subject}`` (the exchange checks the
#: consent and logs the access). Built from ``CIVIC_BASE_URL``.
EXCHANGE_FETCH: Final = "{base}/exchange/current/{provider}/{category}/{subject}"
#: The change service's data services on the exchange, each holding every citizen's latest
#: reported value per category (a requester's tell-us-once purpose names one: ``notices`` for
#: thin events, whose link fetches the value, or ``values`` for full events).
VALUE_SERVICES: Final = tuple(
    DataService(
        PROVIDER,
        name,
        title,
        tuple(sorted(set(EVENT_CATEGORY.values()))),
        "hosted",
    )
    for name, title in (
        (NOTICES_SERVICE, "Changes a citizen reported (thin events: fetch the new value)"),
        (VALUES_SERVICE, "Changes a citizen reported (full events: the new value)"),
    )
)
#: What a citizen's presentation to this service discloses: who they are, and whether they are
#: 18 (for the electoral roll). An officer's also discloses :data:`OFFICER_CLAIMS`.
PID_CLAIMS: Final = ("personal_administrative_number", "issuing_country", "age_over_18")


@dataclass(frozen=True)
class ChangeLimits:
    """Caps of the change service: a signed report, a presentation, and a report's age."""

    jws_bytes: int = 16 * 1024
    presentation_bytes: int = 32 * 1024
    max_age: int = 300


@dataclass(frozen=True)
class ReportStatus:
    """A report as its reporter follows it: published, then delivered to N of M endpoints."""

    report: StoredReport
    progress: ReportProgress

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        counts = self.progress.deliveries
        total = sum(counts.values())
        delivered = counts.get("delivered", 0)
        state = "delivered" if total and delivered == total else "published"
        return {
            "id": self.report.id,
            "kind": self.report.kind,
            "event": {"id": self.report.event_id, "type": self.report.event_type},
            "created_at": self.report.created_at,
            "status": state,
            "fanned_out": self.progress.fanned_out,
            "delivered": delivered,
            "endpoints": total,
            "deliveries": dict(sorted(counts.items())),
            "summary": f"published, delivered to {delivered} of {total}"
            if self.progress.fanned_out
            else "published, waiting to be sent",
        }


def _today(now: int) -> str:
    return date.fromtimestamp(now).isoformat()


class Changes:
    """The change service (see the module docstring)."""

    def __init__(
        self,
        *,
        store: ChangeStorage,
        consents: Consents,
        registry: Callable[[], TrustRegistry],
        record: Callable[[str, str], Item | None],
        signer: Callable[[str, int], Authority],
        pairwise: Callable[[str, Subject], str],
        clock: Clock,
        base_url: str,
        limits: ChangeLimits = ChangeLimits(),
    ) -> None:
        self.store = store
        self.consents = consents
        self._registry = registry
        self.record = record
        self._signer = signer
        self._pairwise = pairwise
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.audience = self.base_url + "/changes"
        self.limits = limits

    # --- citizens ----------------------------------------------------------------------------

    def nonce(self) -> IssuedNonce:
        """A nonce for the wallet's next PID presentation to this service."""
        return self.consents.nonce(audience=self.audience)

    def holder(self, presentation: object, nonce: object) -> PidHolder:
        """The citizen a PID presentation to this service names (nonce used once)."""
        return self.consents.holder(presentation, nonce, audience=self.audience)

    def report(self, *, signed: object, presentation: object, nonce: object) -> StoredReport:
        """Publish a citizen's (or a company officer's) signed change (module docstring)."""
        now = self.clock.now()
        if not isinstance(signed, str) or len(signed) > self.limits.jws_bytes:
            raise InputError(
                "too_large", f"a change report is at most {self.limits.jws_bytes} bytes"
            )
        # 1. who presents (nonce used up), and what their PID-bound key signed
        holder = self.holder(presentation, nonce)

        def binds(payload: Mapping[str, Any]) -> None:
            if payload.get("aud") != self.audience or payload.get("nonce") != nonce:
                raise VerificationError(
                    "invalid_change", "the report is for another audience or nonce"
                )

        verified = read_change(
            signed,
            holder.key,
            registrar=False,
            now=now,
            max_age=self.limits.max_age,
            max_bytes=self.limits.jws_bytes,
            expect=binds,
        )
        change = verified.change
        if change.kind not in CITIZEN_KINDS:
            raise VerificationError(
                "invalid_change", f"a {change.kind} is registered by a registrar"
            )
        # 2. the registers
        signer = "citizen"
        address = None
        if "uprn" in change.fields:
            address = self._address(change.fields["uprn"], now)
        if change.kind == "registered-office":
            company = self._current("company", change.fields["company"], now, "unknown_company")
            officers = company.get("officers")
            entries = [officers] if isinstance(officers, str) else list(officers or ())
            signer = "officer: " + check_officer(entries, holder.claims)
        # 3. published with its roll move
        report_id = _random_id()
        subject = None if change.kind == "registered-office" else holder.subject
        notice = self._notice(report_id, change, subject, address, now)
        roll = None
        if change.kind == "address" and address is not None:
            adult = holder.claims.get("age_over_18")
            roll = RollChange(
                self._placement(holder.subject, change.fields["uprn"], address),
                "moved-in",
                adult=adult if isinstance(adult, bool) else None,
            )
        stored = StoredReport(
            id=report_id,
            kind=change.kind,
            signer=signer,
            jti=None,
            event_id=notice.id,
            event_type=notice.type,
            signed=signed,
            presentation=holder.presentation,
            created_at=now,
        )
        self.store.publish(stored, notice, roll=roll, value=self._value(notice), now=now)
        return stored

    # --- registrars --------------------------------------------------------------------------

    def register(self, signed: object) -> StoredReport:
        """Publish a registrar's signed birth or death (module docstring)."""
        now = self.clock.now()
        # 1. the registrar's accredited key and scope
        header, unverified = unverified_header(signed, max_bytes=self.limits.jws_bytes)
        iss, kid = unverified.get("iss"), header.get("kid")
        if not isinstance(iss, str) or not 0 < len(iss) <= 200:
            raise VerificationError("invalid_change", "a registrar's report names its iss")
        if kid is not None and not isinstance(kid, str):
            raise VerificationError("invalid_change", "kid is a string")
        registry = self._registry()
        key = registry.issuer_key(iss, kid, now)
        verified = read_change(
            signed,
            key,
            registrar=True,
            now=now,
            max_age=self.limits.max_age,
            max_bytes=self.limits.jws_bytes,
        )
        change = verified.change
        if change.kind not in AUTHORITY_KINDS:
            raise VerificationError("invalid_change", f"a {change.kind} is reported by a wallet")
        registry.check_scope(iss, change_vct(change.kind), frozenset(change.fields), now)
        jti = verified.payload["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 64:
            raise VerificationError("invalid_change", "jti is 1-64 characters")
        subject = Subject(change.fields["country"], change.fields["number"])
        elector = self._pairwise(ELECTORAL_SECTOR, subject)
        # 2. the registers, 3. published
        report_id = _random_id()
        birth = None
        roll = None
        address = None
        if change.kind == "birth":
            if change.fields["birthdate"] > _today(now):
                raise InputError("invalid_change", "a birth is registered after it happens")
            address = self._address(change.fields["uprn"], now)
            birth = Birth(
                elector=elector,
                country=subject.country,
                number=subject.number,
                birthdate=change.fields["birthdate"],
                adult_at=adult_at(change.fields["birthdate"]),
                uprn=change.fields["uprn"],
            )
        else:
            roll = RollChange(Placement(elector, None, None, None), "died", adult=False)
        notice = self._notice(report_id, change, subject, address, now)
        stored = StoredReport(
            id=report_id,
            kind=change.kind,
            signer=iss,
            jti=jti,
            event_id=notice.id,
            event_type=notice.type,
            signed=str(signed),
            presentation=None,
            created_at=now,
        )
        self.store.publish(
            stored, notice, roll=roll, birth=birth, value=self._value(notice), now=now
        )
        return stored

    def register_as(self, registrar: str, change: object) -> StoredReport:
        """The admin acting for a registrar hosted here: it signs ``change`` with the
        registrar's accredited key, then the report is checked like any other."""
        now = self.clock.now()
        parsed = parse_change(change)
        authority = self._signer(registrar, now)
        claims = registrar_claims(parsed, iss=authority.id, jti=_random_id(), iat=now)
        kid = authority.key.public_key.thumbprint()
        return self.register(sign_jwt(authority.key, claims, {"typ": CHANGE_TYP, "kid": kid}))

    # --- following a report ------------------------------------------------------------------

    def status(self, report_id: str) -> ReportStatus:
        """A report and how far its event has gone."""
        if not isinstance(report_id, str) or not 0 < len(report_id) <= 32:
            raise CivicError("change_not_found", "no change report with that id")
        report = self.store.report(report_id)
        return ReportStatus(report, self.store.progress(report.event_id))

    # --- helpers -----------------------------------------------------------------------------

    def _current(self, register: str, key: str, now: int, code: str) -> Item:
        item = self.record(register, key)
        if item is None:
            raise CivicError(code, f"the {register} register holds no record {key!r}")
        ended = item.get("end-date")
        if isinstance(ended, str) and ended[:10] <= _today(now):
            raise CivicError(
                "address_ended" if register == "address" else code,
                f"the {register} register's record {key!r} ended on {ended[:10]}",
            )
        return item

    def _address(self, uprn: str, now: int) -> Item:
        return self._current("address", uprn, now, "unknown_address")

    def _placement(self, subject: Subject, uprn: str, address: Item) -> Placement:
        authority = address.get("local-authority-eng")
        code = authority if isinstance(authority, str) and authority else None
        return Placement(
            elector=self._pairwise(ELECTORAL_SECTOR, subject),
            authority=code,
            subject=None if code is None else self._pairwise(ero_name(code), subject),
            uprn=uprn,
        )

    def placement_for(self, birth: Birth) -> Placement:
        """Where a citizen whose birth was registered lives now (for the check at 18)."""
        subject = Subject(birth.country, birth.number)
        item = None if birth.uprn is None else self.record("address", birth.uprn)
        if item is None or birth.uprn is None:
            return Placement(birth.elector, None, None, None)
        return self._placement(subject, birth.uprn, item)

    def _value(self, notice: Notice) -> ChangedValue | None:
        """What the exchange keeps of a citizen's change (none for a company's)."""
        category = EVENT_CATEGORY.get(notice.type)
        if notice.subject is None or category is None or notice.value is None:
            return None
        return ChangedValue(self._pairwise(PROVIDER, notice.subject), category, notice.value)

    def _notice(
        self,
        report_id: str,
        change: Change,
        subject: Subject | None,
        address: Item | None,
        now: int,
    ) -> Notice:
        value: dict[str, Any] = dict(change.fields)
        if address is not None:
            value["address"] = address.to_json()
        if change.kind in ("birth", "death"):
            value.pop("country", None)
            value.pop("number", None)
        category = change.category
        fetch = None
        if subject is not None and category is not None:
            fetch = EXCHANGE_FETCH.format(
                base=self.base_url,
                provider=PROVIDER,
                category=quote(category, safe=""),
                subject="{subject}",
            )
        return Notice(
            id="evt_" + secrets.token_hex(13),
            type=change.event_type,
            source=self.audience,
            time=now,
            subject=subject,
            changed=tuple(sorted(k for k in change.fields if k not in ("country", "number"))),
            value=value,
            fetch=fetch,
            extra={"report": report_id},
        )


def _random_id() -> str:
    # Never starting with "-": a citizen types these ids on a command line, which would take
    # one for an option (one id in 64 did, and `civic wallet consent give ID` failed).
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return value
