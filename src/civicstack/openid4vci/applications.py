"""A citizen's application for a credential: its claims, its proof documents, automatic checks.

OpenID4VCI leaves how an End-User provides "information required for the issuance" out of scope
(§3.5 step 1); its deferred flow (§9) exists for exactly this: "a manual review process being
required" (§8.3). An :class:`Application` is that information: the claims asked for, the proof
documents uploaded with them (kept by SHA-256 hash, see :func:`sniff_document`), and the
:class:`Finding` s of automatic checks, each with its :data:`CheckOutcome`. An officer then
approves or rejects it, once (:func:`check_undecided`).

Automatic checks plug in through the :class:`ApplicationCheck` seam: given an application, a
check returns findings that ``pass``, ``flag`` (the officer should look) or ``block`` (refused
before any officer sees it). :class:`NoRegisterChecks` is the honest default while no register
is configured: it records that nothing was checked. :class:`UprnInAddressRegister` is a real
check against the authoritative registers (GOV.UK Registers model) through the
:class:`civicstack.types.RegisterLinks` seam: an address that names a UPRN must be a record of
the ``address`` register.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from civicstack.errors import CivicError, InputError
from civicstack.types import RegisterLinks

CheckOutcome = Literal["pass", "flag", "block"]
OUTCOMES: tuple[CheckOutcome, ...] = ("pass", "flag", "block")
Status = Literal["pending", "approved", "rejected"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected")

#: Accepted proof documents, recognised by their first bytes (never by a client's word).
DOCUMENT_TYPES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
MAX_REASON_CHARS = 1000
MAX_REVIEWER_CHARS = 256


@dataclass(frozen=True, slots=True)
class ApplicationLimits:
    """The size caps of one application, and the one rule the HTTP body cap follows from.

    ``documents``        proof documents one application carries (default 4)
    ``document_bytes``   bytes of one document (default 4 MiB)
    ``field_bytes``      bytes of each text field, ``vct`` and ``claims`` (default 64 KiB)
    ``part_header_bytes``  what one multipart part's boundary and headers may take (1 KiB)

    The rule: :attr:`max_body`, the largest request an application can be, is the documents'
    allowance (:attr:`allowance`: ``documents`` x ``document_bytes``) plus the two text
    fields plus one part header per part. A submission route caps its body there and the
    platform's body cap is this same number (an application is the largest request the
    platform takes), so every application within the allowance is accepted and nothing larger
    is read.
    """

    documents: int = 4
    document_bytes: int = 4 * 1024 * 1024
    field_bytes: int = 64 * 1024
    part_header_bytes: int = 1024

    @property
    def allowance(self) -> int:
        """The bytes of documents one application may carry."""
        return self.documents * self.document_bytes

    @property
    def max_body(self) -> int:
        """The largest multipart body an application within :attr:`allowance` can be."""
        parts = self.documents + 2  # the documents, vct and claims
        return self.allowance + 2 * self.field_bytes + parts * self.part_header_bytes


DEFAULT_APPLICATION_LIMITS = ApplicationLimits()
#: The defaults' caps under their earlier names.
MAX_DOCUMENT_BYTES = DEFAULT_APPLICATION_LIMITS.document_bytes
MAX_DOCUMENTS = DEFAULT_APPLICATION_LIMITS.documents


@dataclass(frozen=True, slots=True)
class Finding:
    """What one automatic check found."""

    check: str
    outcome: CheckOutcome
    detail: str

    def to_json(self) -> dict[str, str]:
        """A plain description."""
        return {"check": self.check, "outcome": self.outcome, "detail": self.detail}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Finding:
        """Read what :meth:`to_json` wrote."""
        outcome = value.get("outcome")
        if outcome not in OUTCOMES:
            raise InputError("malformed", "a finding's outcome is pass, flag or block")
        return cls(str(value.get("check", "")), outcome, str(value.get("detail", "")))


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A proof document as the application keeps it: by content, never by a given name."""

    sha256: str
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        """A plain description."""
        return {"sha256": self.sha256, "size": self.size, "media_type": self.media_type}


@dataclass(frozen=True, slots=True)
class Application:
    """A citizen's application, as submitted and as decided."""

    id: str
    issuer: str  # the authority's name
    vct: str
    claims: Mapping[str, Any]
    documents: tuple[DocumentRef, ...]
    status: Status
    findings: tuple[Finding, ...]
    submitted_at: int
    reviewer: str | None = None
    reason: str | None = None
    decided_at: int | None = None
    offer_id: str | None = None
    #: When the retention schedule deleted the documents' files (their hashes stay).
    documents_expired_at: int | None = None

    def to_json(self, *, with_claims: bool = True) -> dict[str, Any]:
        """A plain description (claims only when asked: listings leave them out)."""
        out: dict[str, Any] = {
            "id": self.id,
            "issuer": self.issuer,
            "vct": self.vct,
            "status": self.status,
            "documents": [d.to_json() for d in self.documents],
            "findings": [f.to_json() for f in self.findings],
            "submitted_at": self.submitted_at,
            "reviewer": self.reviewer,
            "reason": self.reason,
            "decided_at": self.decided_at,
            "documents_expired_at": self.documents_expired_at,
        }
        if with_claims:
            out["claims"] = dict(self.claims)
        return out

    @property
    def blocked(self) -> Finding | None:
        """The first blocking finding, if any."""
        return next((f for f in self.findings if f.outcome == "block"), None)


class ApplicationCheck(Protocol):
    """An automatic check of an application against authoritative sources."""

    def check(self, application: Application) -> Sequence[Finding]:
        """What the check found (an empty list: nothing to say)."""
        ...


class NoRegisterChecks:
    """The default while no authoritative register is configured: says so, blocks nothing."""

    def check(self, application: Application) -> Sequence[Finding]:
        """One ``flag`` finding: the officer must know nothing was checked automatically."""
        return [Finding("registers", "flag", "no register checks configured")]


class UprnInAddressRegister:
    """An address naming a UPRN must be a record of the ``address`` register.

    Looks at ``address.uprn`` in the claims; an application without one passes with a note,
    since the PID rulebook's address has no UPRN member of its own.
    """

    name = "address-register"

    def __init__(self, registers: RegisterLinks, register: str = "address") -> None:
        self.registers = registers
        self.register = register

    def check(self, application: Application) -> Sequence[Finding]:
        """``block`` for an unknown UPRN, ``pass`` for a known one."""
        address = application.claims.get("address")
        uprn = address.get("uprn") if isinstance(address, Mapping) else None
        if uprn is None:
            return [Finding(self.name, "pass", "no UPRN given: nothing to check")]
        if not isinstance(uprn, str) or not uprn.isdigit() or len(uprn) > 12:
            return [Finding(self.name, "block", "the UPRN is not 1-12 digits")]
        if not self.registers.has_register(self.register):
            return [Finding(self.name, "flag", f"no {self.register} register to check against")]
        where = f"the {self.register} register"
        if self.registers.missing_keys(self.register, {uprn}):
            return [Finding(self.name, "block", f"UPRN {uprn} is not in {where}")]
        return [Finding(self.name, "pass", f"UPRN {uprn} is a record of {where}")]


class AllChecks:
    """Runs several checks; a check that fails to run becomes a ``flag``, never a crash."""

    def __init__(self, checks: Iterable[ApplicationCheck]) -> None:
        self.checks = tuple(checks)

    def check(self, application: Application) -> Sequence[Finding]:
        """Every check's findings, in order."""
        found: list[Finding] = []
        for check in self.checks:
            try:
                found.extend(check.check(application))
            except Exception as exc:  # a broken source must not decide an application
                found.append(Finding(type(check).__name__, "flag", f"check failed: {exc}"))
        return found


def sniff_document(
    content: bytes, *, limits: ApplicationLimits = DEFAULT_APPLICATION_LIMITS
) -> str:
    """The media type of an accepted proof document, from its magic bytes.

    ``too_large`` over ``limits.document_bytes``; ``invalid_document`` for anything but PDF,
    PNG or JPEG (whatever the uploader claimed).
    """
    if len(content) > limits.document_bytes:
        raise InputError("too_large", f"a document is at most {limits.document_bytes} bytes")
    if not content:
        raise InputError("invalid_document", "an empty document")
    for magic, media_type in DOCUMENT_TYPES:
        if content.startswith(magic):
            return media_type
    raise InputError("invalid_document", "documents are PDF, PNG or JPEG files")


def check_reviewer(value: object) -> str:
    """Who decided: 1-256 printable characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REVIEWER_CHARS:
        raise InputError("invalid_request", "reviewer is 1-256 characters")
    if not value.isprintable():
        raise InputError("invalid_request", "reviewer has control characters")
    return value


def check_reason(value: object) -> str:
    """Why an application was refused: 1-1000 characters, no control characters but newlines."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REASON_CHARS:
        raise InputError("invalid_request", f"reason is 1-{MAX_REASON_CHARS} characters")
    if not value.replace("\n", " ").isprintable():
        raise InputError("invalid_request", "reason has control characters")
    return value


def check_undecided(application: Application) -> None:
    """An application is decided once: ``conflict`` unless it is still ``pending``."""
    if application.status != "pending":
        raise CivicError(
            "conflict", f"application {application.id} was already {application.status}"
        )
