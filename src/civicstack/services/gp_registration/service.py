"""GP switching: a citizen registers with a practice chosen from the ``gp-practice`` register,
the new practice takes over the record from the old one under the citizen's consent, and
relatives the patient names for hereditary conditions are each asked for their family health
history through the consent service.

Modelled on NHS England's GP registration and GP2GP record transfer (the receiving practice
pulls the record from the sending one), over the platform's own data exchange: every transfer is
an exchange fetch (:mod:`civicstack.services.exchange`), in the access log with a C2SP tlog-proof
receipt before anything is released. A practice is a register key (an ODS code) tied to the
registered organisation (relying party) that acts as it (:meth:`GpRegistrations.link`).

Registration (:meth:`GpRegistrations.register`):

1. the chosen practice is a key of the ``gp-practice`` register (``practice_unknown``), open (no
   ``end-date``: ``practice_closed``) and ``accepting-new-patients`` = ``true``
   (``practice_not_accepting``), tied to an organisation, and the caller acts for it;
2. the previous practice and each relative's practice are tied to organisations, and each
   relative's practice holds a patient record of them (``no_record``);
3. the record is fetched from the previous practice under the patient's consent (purpose
   ``patient_registration``); a refusal is logged by the exchange and nothing is kept here;
4. each relative is sent a consent request (purpose ``family_history``, their
   ``dpv-pd:FamilyHealthHistory`` only, usable once) to their own inbox;
5. the registration and the requests' ids are kept.

Family history (:meth:`GpRegistrations.family_history`): for each relative, only if they gave
the consent, their family health history is fetched from their practice under it; a refused or
unanswered request shares nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from civicstack.errors import CivicError, InputError
from civicstack.pairwise import Subject, check_pairwise_id
from civicstack.services.exchange import AccessRefusedError, FetchRequest, Released
from civicstack.services.gp_registration.storage import (
    GpStorage,
    PracticeLink,
    Registration,
    RelativeAsked,
)
from civicstack.services.verifier import Caller

__all__ = [
    "FAMILY_CATEGORY",
    "FAMILY_PURPOSE",
    "MAX_RELATIVES",
    "PATIENT_RECORD",
    "RECORD_CATEGORIES",
    "REGISTRATION_PURPOSE",
    "GpRegistrations",
    "Practice",
    "RelativeShared",
]

#: The data service every practice publishes.
PATIENT_RECORD = "patient-record"
#: The purposes a practice registers for: taking over a patient's record, and a relative's
#: family health history.
REGISTRATION_PURPOSE, FAMILY_PURPOSE = "patient_registration", "family_history"
#: What moves with the patient (their own record, not their relatives').
RECORD_CATEGORIES = ("dpv-pd:HealthHistory", "dpv-pd:HealthRecord", "dpv-pd:Prescription")
#: The one category a relative is asked for.
FAMILY_CATEGORY = "dpv-pd:FamilyHealthHistory"
#: Relatives one registration may name.
MAX_RELATIVES = 8
_ODS = re.compile(r"[A-Z0-9]{3,10}")
_ORG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_CONSENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._:-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
_RELATIONSHIP = re.compile(r"[a-z][a-z-]{0,31}")
_RELATIVE_MEMBERS = {
    "issuing_country",
    "personal_administrative_number",
    "relationship",
    "practice",
}


@dataclass(frozen=True, slots=True)
class Practice:
    """A GP practice as the register describes it, and the organisation acting as it."""

    ods_code: str
    name: str
    open: bool
    accepting: bool
    organisation: str | None


@dataclass(frozen=True, slots=True)
class RelativeShared:
    """What one relative's consent let through: ``state`` is the request's (``pending``,
    ``given``, ``refused``); ``data`` and ``receipt`` only when their history was released,
    ``refusal`` the exchange's code when a given consent no longer covers it."""

    relationship: str
    state: str
    data: Mapping[str, Any] | None = None
    receipt: str | None = None
    refusal: str | None = None


class Fetcher(Protocol):
    """The data exchange's fetch (:meth:`civicstack.services.exchange.Exchange.fetch`)."""

    def fetch(self, caller: Caller, request: FetchRequest) -> Released: ...


class ConsentAsker(Protocol):
    """What the consent service does for a requester
    (:class:`~civicstack.services.consent.Consents`)."""

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
    ) -> Any: ...

    def request(self, caller: Caller, request_id: str) -> Any: ...


class GpRegistrations:
    """The GP registration service (see the module docstring)."""

    def __init__(
        self,
        *,
        store: GpStorage,
        practice_record: Callable[[str], Mapping[str, Any] | None],
        has_record: Callable[[str, str, str], bool],
        exchange: Fetcher,
        consents: ConsentAsker,
        pairwise: Callable[[str, Subject], str],
        publishes: Callable[[str, str], bool],
        clock: Any,
    ) -> None:
        """``practice_record(ods)`` is the current item of a ``gp-practice`` register key (or
        None); ``has_record(provider, service, subject)`` whether a hosted record exists;
        ``organisation(name)`` raises unless ``name`` is a hosted relying party."""
        self.store = store
        self._practice_record = practice_record
        self._has_record = has_record
        self._exchange = exchange
        self._consents = consents
        self._pairwise = pairwise
        self._publishes = publishes
        self.clock = clock

    # --- practices ---------------------------------------------------------------------------

    def practice(self, ods_code: object) -> Practice:
        """The practice with ``ods_code`` as the register holds it (``practice_unknown``)."""
        if not isinstance(ods_code, str) or not _ODS.fullmatch(ods_code):
            raise InputError("invalid_request", "a practice is an ODS code (A-Z, 0-9)")
        item = self._practice_record(ods_code)
        if item is None:
            raise CivicError("practice_unknown", f"no GP practice {ods_code} in the register")
        link = self.store.by_code(ods_code)
        return Practice(
            ods_code,
            str(item.get("name", ods_code)),
            item.get("end-date") is None,
            item.get("accepting-new-patients") == "true",
            None if link is None else link.organisation,
        )

    def practices(self) -> list[Practice]:
        """Every practice tied to an organisation, as the register holds it now."""
        return [self.practice(link.ods_code) for link in self.store.links()]

    def link(self, caller: Caller, organisation: object, ods_code: object) -> Practice:
        """Tie an organisation publishing a ``patient-record`` data service to a ``gp-practice``
        key (the admin only)."""
        if caller.relying_party is not None:
            raise CivicError("forbidden", "only the admin ties organisations to practices")
        if not isinstance(organisation, str) or not _ORG.fullmatch(organisation):
            raise InputError("invalid_request", "organisation is a relying party's name")
        if not self._publishes(organisation, PATIENT_RECORD):
            raise CivicError(
                "unknown_data_service", f"{organisation} publishes no {PATIENT_RECORD} service"
            )
        practice = self.practice(ods_code)
        self.store.link(PracticeLink(organisation, practice.ods_code), now=self.clock.now())
        return self.practice(practice.ods_code)

    def _acting_as(self, ods_code: object) -> str:
        practice = self.practice(ods_code)
        if practice.organisation is None:
            raise CivicError(
                "practice_unknown", f"practice {practice.ods_code} is not on the platform"
            )
        return practice.organisation

    # --- registration ------------------------------------------------------------------------

    def register(
        self,
        caller: Caller,
        *,
        practice: object,
        previous: object,
        subject: object,
        consent: object,
        relatives: object = (),
    ) -> tuple[Registration, Released]:
        """Steps 1-5 of the module docstring; the registration and the released record."""
        now = self.clock.now()
        if not isinstance(consent, str) or not _CONSENT.fullmatch(consent):
            raise InputError("invalid_request", "consent is a consent id")
        patient = check_pairwise_id(subject, "subject")
        named = _relatives(relatives)
        # 1. chosen from the register: open, accepting, on the platform, and the caller is it
        chosen = self.practice(practice)
        if not chosen.open:
            raise CivicError("practice_closed", f"practice {chosen.ods_code} has closed")
        if not chosen.accepting:
            raise CivicError(
                "practice_not_accepting", f"practice {chosen.ods_code} takes no new patients"
            )
        org = self._acting_as(chosen.ods_code)
        if caller.acting_for(org) != org:  # pragma: no cover - acting_for raises or returns it
            raise CivicError("forbidden", "acting for another practice")
        # 2. the previous practice and the relatives' practices, each relative known there
        old = self._acting_as(previous)
        if old == org:
            raise InputError("invalid_request", "the previous practice is the chosen one")
        asked: list[tuple[str, str, Subject]] = []
        for relationship, ods, person in named:
            holder = self._acting_as(ods)
            if holder == org:
                raise InputError("invalid_request", "a relative's practice is another practice")
            if not self._has_record(holder, PATIENT_RECORD, self._pairwise(holder, person)):
                raise CivicError("no_record", f"practice {ods} holds no record of that relative")
            asked.append((relationship, holder, person))
        # 3. the record, under the patient's consent (logged by the exchange, refusals too)
        released = self._exchange.fetch(
            Caller(org),
            FetchRequest(
                consent, old, PATIENT_RECORD, REGISTRATION_PURPOSE, patient, RECORD_CATEGORIES
            ),
        )
        # 4. one consent request per relative, to their own inbox
        requests = [
            RelativeAsked(
                relationship,
                holder,
                self._consents.create_request(
                    Caller(org),
                    subject=self._pairwise(org, person),
                    provider=holder,
                    purpose=FAMILY_PURPOSE,
                    categories=[FAMILY_CATEGORY],
                    once=True,
                    valid_days=30,
                ).id,
            )
            for relationship, holder, person in asked
        ]
        # 5. kept
        registration = Registration(
            secrets.token_hex(12),
            org,
            chosen.ods_code,
            old,
            patient,
            consent,
            released.recorded.index,
            now,
            tuple(requests),
        )
        self.store.add(registration)
        return registration, released

    def registration(self, caller: Caller, registration_id: object) -> Registration:
        """A registration, for its practice (or the admin); ``not_found`` for anyone else."""
        if not isinstance(registration_id, str) or not re.fullmatch(
            r"[0-9a-f]{24}", registration_id
        ):
            raise CivicError("not_found", "no such registration")
        found = self.store.get(registration_id)
        if caller.relying_party is not None and caller.relying_party != found.practice:
            raise CivicError("not_found", "no such registration")
        return found

    def family_history(self, caller: Caller, registration_id: object) -> list[RelativeShared]:
        """What each named relative consented to share, fetched now under their consent."""
        found = self.registration(caller, registration_id)
        acting = Caller(found.practice)
        shared: list[RelativeShared] = []
        for relative in found.relatives:
            request = self._consents.request(acting, relative.request)
            if request.state != "given" or request.consent_id is None:
                shared.append(RelativeShared(relative.relationship, request.state))
                continue
            try:
                released = self._exchange.fetch(
                    acting,
                    FetchRequest(
                        request.consent_id,
                        relative.practice,
                        PATIENT_RECORD,
                        FAMILY_PURPOSE,
                        request.subject,
                        (FAMILY_CATEGORY,),
                    ),
                )
            except AccessRefusedError as exc:
                refused = None if exc.receipt is None else exc.receipt.text()
                shared.append(
                    RelativeShared(relative.relationship, "given", None, refused, exc.code)
                )
                continue
            receipt = released.recorded.receipt
            shared.append(
                RelativeShared(
                    relative.relationship,
                    "given",
                    released.data,
                    None if receipt is None else receipt.text(),
                )
            )
        return shared


def _relatives(value: object) -> list[tuple[str, str, Subject]]:
    """The relatives a registration names: ``(relationship, practice ODS code, subject)``."""
    if not isinstance(value, list | tuple):
        raise InputError("invalid_request", "relatives is a list")
    if len(value) > MAX_RELATIVES:
        raise InputError("too_large", f"at most {MAX_RELATIVES} relatives")
    out: list[tuple[str, str, Subject]] = []
    for relative in value:
        if not isinstance(relative, Mapping) or set(relative) != _RELATIVE_MEMBERS:
            raise InputError(
                "invalid_request", f"a relative has exactly {sorted(_RELATIVE_MEMBERS)}"
            )
        country, number = relative["issuing_country"], relative["personal_administrative_number"]
        relationship, practice = relative["relationship"], relative["practice"]
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
            raise InputError("invalid_request", "issuing_country is ISO 3166-1 alpha-2")
        if not isinstance(number, str) or not _NUMBER.fullmatch(number):
            raise InputError("invalid_request", "personal_administrative_number is 1-32 A-Z0-9")
        if not isinstance(relationship, str) or not _RELATIONSHIP.fullmatch(relationship):
            raise InputError("invalid_request", "relationship is a lowercase word, e.g. mother")
        if not isinstance(practice, str) or not _ODS.fullmatch(practice):
            raise InputError("invalid_request", "a relative's practice is an ODS code")
        out.append((relationship, practice, Subject(country, number)))
    if len(set(out)) != len(out):
        raise InputError("invalid_request", "a relative is named twice")
    return out
