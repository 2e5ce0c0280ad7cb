"""Consent requests and consent records, with the pure rules of their states.

A record's fields follow ISO/IEC TS 27560:2023 (consent record information structure) as the
W3C Data Privacy Vocabulary expresses them (DPV 2.0 "Consent" and the DPV guide to 27560):

=====================  =============================  ========================================
field                  ISO/IEC TS 27560 / DPV          here
=====================  =============================  ========================================
record id, version     record identifier, version      ``id``, ``version`` (every change is a
                                                       new version; all are kept)
PII principal          dpv:hasDataSubject              ``requester_subject``,
                                                       ``provider_subject``, ``log_subject``
                                                       (pairwise ids: the record never names
                                                       the person)
PII controller         dpv:hasDataController           ``requester`` (a registered relying
                                                       party)
source / recipient     dpv:hasRecipient,               ``provider`` (the organisation holding
                       dpv:hasDataSource               the data)
purpose                dpv:hasPurpose                  ``purpose`` (the registered purpose id)
                                                       and ``dpv_purpose`` (a DPV purpose)
PII categories         dpv:hasPersonalData             ``categories`` (DPV-PD CURIEs)
legal basis            dpv:hasLegalBasis               ``legal_basis`` = ``dpv:Consent``
validity / duration    dpv:hasDuration                 ``valid_from``, ``valid_until``
frequency              dpv:hasFrequency                ``once`` (dpv:SingularFrequency) or until
                                                       withdrawn
consent status         dpv:hasConsentStatus            ``state``: given, refused, withdrawn,
                                                       expired (computed at ``now``)
indicated by / at      dpv:isIndicatedBy, AtTime       ``signature`` (the citizen's JWS),
                                                       ``created_at``
=====================  =============================  ========================================

The rules (time is passed in):

1. a request is answerable while pending and unexpired (:func:`check_answerable`);
2. answering makes version 1, ``given`` or ``refused`` (:func:`record_from_request`);
3. a ``given`` consent is ``expired`` from ``valid_until`` on (:meth:`ConsentRecord.state_at`);
4. only a ``given``, unexpired consent can be withdrawn; withdrawal is a new version, effective
   at once (:func:`withdrawn`); refused, withdrawn and expired are final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from civicstack.consent.limits import DEFAULT_LIMITS, Limits
from civicstack.consent.vocabulary import (
    LEGAL_BASIS,
    STATUS_TERMS,
    check_categories,
    check_purpose_term,
)
from civicstack.errors import CivicError, InputError
from civicstack.pairwise import check_pairwise_id

__all__ = [
    "ConsentRecord",
    "ConsentRequest",
    "ConsentState",
    "Decision",
    "RequestState",
    "check_answerable",
    "check_name",
    "record_from_request",
    "withdrawn",
]

ConsentState = Literal["given", "refused", "withdrawn", "expired"]
Decision = Literal["given", "refused"]
RequestState = Literal["pending", "given", "refused", "expired"]
_DAY = 86_400
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_name(value: object, what: str) -> str:
    """An organisation's or purpose's name: 1-64 lowercase letters, digits, ``-`` or ``_``."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 64
        or not (_NAME_CHARS | {"_"}).issuperset(value)
        or not value[0].isalnum()
    ):
        raise InputError("invalid_request", f"{what} is 1-64 lowercase letters, digits, - or _")
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError("malformed", f"{what} must be a whole number")
    return value


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """A requester's request for consent, waiting in the citizen's inbox."""

    id: str
    requester: str
    provider: str
    purpose: str
    dpv_purpose: str
    categories: tuple[str, ...]
    subject: str  # the citizen's pairwise id at the requester
    once: bool
    valid_days: int
    created_at: int
    expires_at: int
    state: RequestState = "pending"
    answered_at: int | None = None
    consent_id: str | None = None

    @classmethod
    def create(
        cls,
        id: str,
        *,
        requester: str,
        provider: str,
        purpose: str,
        dpv_purpose: object,
        categories: object,
        subject: object,
        once: bool,
        valid_days: object,
        now: int,
        limits: Limits = DEFAULT_LIMITS,
    ) -> ConsentRequest:
        """A new pending request, every field checked."""
        if not isinstance(once, bool):
            raise InputError("invalid_request", "once is true or false")
        days = _int(valid_days, "valid_days")
        if not 1 <= days <= limits.valid_days:
            raise InputError("invalid_request", f"valid_days is 1 to {limits.valid_days}")
        return cls(
            id=id,
            requester=check_name(requester, "the requester"),
            provider=check_name(provider, "the provider"),
            purpose=check_name(purpose, "the purpose"),
            dpv_purpose=check_purpose_term(dpv_purpose),
            categories=check_categories(categories, limit=limits.categories),
            subject=check_pairwise_id(subject),
            once=once,
            valid_days=days,
            created_at=now,
            expires_at=now + limits.request_lifetime,
        )

    def state_at(self, now: int) -> RequestState:
        """``expired`` once a pending request's lifetime has passed."""
        if self.state == "pending" and now >= self.expires_at:
            return "expired"
        return self.state

    def to_json(self, now: int | None = None) -> dict[str, Any]:
        """The wire form (the state as of ``now`` when given)."""
        return {
            "id": self.id,
            "requester": self.requester,
            "provider": self.provider,
            "purpose": self.purpose,
            "dpv_purpose": self.dpv_purpose,
            "categories": list(self.categories),
            "subject": self.subject,
            "frequency": "once" if self.once else "until_withdrawn",
            "valid_days": self.valid_days,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "state": self.state if now is None else self.state_at(now),
            "answered_at": self.answered_at,
            "consent_id": self.consent_id,
        }

    @classmethod
    def from_json(cls, value: object, *, limits: Limits = DEFAULT_LIMITS) -> ConsentRequest:
        """Read a request as a server sent it (a wallet reading its inbox), strictly."""
        if not isinstance(value, Mapping):
            raise InputError("malformed", "a consent request is a JSON object")
        try:
            frequency = value["frequency"]
            if frequency not in ("once", "until_withdrawn"):
                raise InputError("malformed", "frequency is once or until_withdrawn")
            request_id = value["id"]
            if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
                raise InputError("malformed", "a request id is a short string")
            made = cls.create(
                request_id,
                requester=value["requester"],
                provider=value["provider"],
                purpose=value["purpose"],
                dpv_purpose=value["dpv_purpose"],
                categories=value["categories"],
                subject=value["subject"],
                once=frequency == "once",
                valid_days=value["valid_days"],
                now=_int(value["created_at"], "created_at"),
                limits=limits,
            )
            state = value.get("state", "pending")
            if state not in ("pending", "given", "refused", "expired"):
                raise InputError("malformed", "unknown request state")
            return replace(
                made,
                expires_at=_int(value["expires_at"], "expires_at"),
                state=cast(RequestState, state),
            )
        except KeyError as exc:
            raise InputError("malformed", f"a consent request lacks {exc.args[0]!r}") from exc


def check_answerable(request: ConsentRequest, now: int) -> None:
    """Rule 1: raise ``consent_request_closed`` unless ``request`` waits for an answer."""
    state = request.state_at(now)
    if state != "pending":
        raise CivicError("consent_request_closed", f"the consent request is {state}")


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One version of a consent record (see the module docstring for its fields)."""

    id: str
    version: int
    state: Literal["given", "refused", "withdrawn"]
    requester: str
    provider: str
    purpose: str
    dpv_purpose: str
    categories: tuple[str, ...]
    requester_subject: str
    provider_subject: str
    log_subject: str
    valid_from: int
    valid_until: int
    once: bool
    request_id: str
    created_at: int
    holder_jwk: Mapping[str, Any] = field(repr=False)
    signature: str = field(repr=False)  # the citizen's signed decision (civicstack-consent+jwt)
    presentation: str = field(repr=False)  # the PID presentation that bound the key
    withdrawal: str | None = field(default=None, repr=False)  # the signed withdrawal, if any
    used_at: int | None = None  # a "once" consent: when its one access was covered
    legal_basis: str = LEGAL_BASIS

    def state_at(self, now: int) -> ConsentState:
        """Rule 3: the state at ``now`` (a given consent expires at ``valid_until``)."""
        if self.state == "given" and now >= self.valid_until:
            return "expired"
        return self.state

    def to_json(self, now: int) -> dict[str, Any]:
        """The wire form, with its state (and DPV status term) at ``now``."""
        state = self.state_at(now)
        return {
            "id": self.id,
            "version": self.version,
            "state": state,
            "status_term": STATUS_TERMS[state],
            "requester": self.requester,
            "provider": self.provider,
            "purpose": self.purpose,
            "dpv_purpose": self.dpv_purpose,
            "categories": list(self.categories),
            "legal_basis": self.legal_basis,
            "subjects": {
                "requester": self.requester_subject,
                "provider": self.provider_subject,
                "access_log": self.log_subject,
            },
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "frequency": "once" if self.once else "until_withdrawn",
            "used_at": self.used_at,
            "request_id": self.request_id,
            "created_at": self.created_at,
            "signature": self.signature,
            "presentation": self.presentation,
            "withdrawal": self.withdrawal,
        }


def record_from_request(
    request: ConsentRequest,
    decision: Decision,
    *,
    consent_id: str,
    provider_subject: str,
    log_subject: str,
    holder_jwk: Mapping[str, Any],
    signature: str,
    presentation: str,
    now: int,
) -> ConsentRecord:
    """Rule 2: version 1 of the record a citizen's answer to ``request`` makes."""
    check_answerable(request, now)
    return ConsentRecord(
        id=consent_id,
        version=1,
        state=decision,
        requester=request.requester,
        provider=request.provider,
        purpose=request.purpose,
        dpv_purpose=request.dpv_purpose,
        categories=request.categories,
        requester_subject=request.subject,
        provider_subject=provider_subject,
        log_subject=log_subject,
        valid_from=now,
        valid_until=now + request.valid_days * _DAY,
        once=request.once,
        request_id=request.id,
        created_at=now,
        holder_jwk=dict(holder_jwk),
        signature=signature,
        presentation=presentation,
    )


def withdrawn(record: ConsentRecord, *, withdrawal: str, now: int) -> ConsentRecord:
    """Rule 4: the next version, withdrawn at ``now`` (``consent_not_active`` unless the
    consent is given and unexpired)."""
    state = record.state_at(now)
    if state != "given":
        raise CivicError("consent_not_active", f"the consent is {state}: nothing to withdraw")
    return replace(
        record,
        version=record.version + 1,
        state="withdrawn",
        created_at=now,
        withdrawal=withdrawal,
    )
