"""Citizens' applications under review: the desk between an application and its credential.

OpenID4VCI leaves out of scope how the End-User provides the information a credential is issued
from (§3.5 step 1), and offers deferred issuance (§9) for "a manual review process being
required" (§8.3). This is that process: a citizen applies with claims and proof documents
(kept by hash, typed by content); automatic checks run at once through the
:class:`~civicstack.openid4vci.applications.ApplicationCheck` seam (a blocking finding rejects the
application there and then); otherwise the citizen gets an offer with a Transaction Code, their
wallet redeems it and is told to come back (202 with a ``transaction_id``), and an officer
approves or rejects, after which the wallet's next deferred request is answered.

The desk declares what it keeps as Protocols: :class:`ApplicationRecords` (implemented by
:class:`civicstack.stores.applications.ApplicationStore`) and :class:`DocumentFiles`
(:class:`civicstack.stores.documents.DocumentStore`); :mod:`civicstack.platform` wires them in.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from civicstack.errors import InputError
from civicstack.openid4vci.applications import (
    MAX_DOCUMENTS,
    Application,
    ApplicationCheck,
    DocumentRef,
    Status,
    check_reason,
    check_reviewer,
    sniff_document,
)
from civicstack.openid4vci.offers import new_id
from civicstack.services.issuer import APPLICATION_OFFER_TTL, CreatedOffer, CredentialIssuer
from civicstack.types import Clock

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: How old an unreferenced document must be before a sweep deletes it: far longer than any
#: submission takes from storing its documents to committing the application.
ORPHAN_GRACE = 24 * 3600


class ApplicationRecords(Protocol):
    """Applications and their documents' records; :meth:`decide` applies
    :func:`~civicstack.openid4vci.applications.check_undecided` inside its transaction."""

    def create_application(self, application: Application, *, conn: Connection) -> None:
        """Record a submitted application inside the caller's transaction."""
        ...

    def application(
        self, authority: str, application_id: str, *, conn: Connection | None = None
    ) -> Application:
        """One application of ``authority``; ``not_found`` otherwise."""
        ...

    def applications(
        self, authority: str, *, status: Status | None = None, limit: int = 200
    ) -> tuple[Application, ...]:
        """``authority``'s applications (with ``status``), oldest first."""
        ...

    def decide(
        self,
        authority: str,
        application_id: str,
        *,
        status: Status,
        reviewer: str,
        reason: str | None,
        now: int,
    ) -> Application:
        """Approve or reject a pending application, once (``conflict`` otherwise)."""
        ...

    def document_hashes(self) -> set[str]:
        """The SHA-256 of every document some application refers to."""
        ...

    def has_document(self, authority: str, application_id: str, sha256: str) -> DocumentRef:
        """The document ``sha256`` of an application; ``not_found`` otherwise."""
        ...


class DocumentFiles(Protocol):
    """Uploaded documents' bytes by SHA-256."""

    def put(self, content: bytes) -> str:
        """Keep ``content``; its hex SHA-256."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes of document ``sha256``."""
        ...

    def sweep(self, keep: Container[str], *, older_than: float) -> int:
        """Delete documents not in ``keep`` last modified before ``older_than``; how many."""
        ...


class ApplicationDesk:
    """Takes applications for the platform's issuers and records the officers' decisions."""

    def __init__(
        self,
        *,
        issuer: CredentialIssuer,
        store: ApplicationRecords,
        documents: DocumentFiles,
        checks: ApplicationCheck,
        clock: Clock,
    ) -> None:
        self.issuer = issuer
        self.store = store
        self.documents = documents
        self.checks = checks
        self.clock = clock

    def apply(
        self,
        name: str,
        *,
        vct: str,
        claims: Mapping[str, Any],
        documents: Sequence[bytes],
    ) -> tuple[Application, CreatedOffer | None]:
        """Take a citizen's application with its proof documents.

        The claims must be issuable by ``name`` (checked now, not after a review); the
        documents are PDF, PNG or JPEG files. Automatic checks run at once: a blocking finding
        rejects the application; otherwise it waits for an officer, and the citizen gets an
        offer (with a Transaction Code) their wallet can redeem now and collect later (§9).
        """
        self.issuer.issuer(name)
        if len(documents) > MAX_DOCUMENTS:
            raise InputError("too_large", f"at most {MAX_DOCUMENTS} documents")
        types = [sniff_document(content) for content in documents]
        self.issuer.authorities.check_issuable(name, vct=vct, claims=claims)
        now = self.clock.now()
        refs = tuple(
            DocumentRef(self.documents.put(content), len(content), media_type)
            for content, media_type in zip(documents, types, strict=True)
        )
        application = Application(
            id=new_id(),
            issuer=name,
            vct=vct,
            claims=dict(claims),
            documents=refs,
            status="pending",
            findings=(),
            submitted_at=now,
        )
        findings = tuple(self.checks.check(application))
        application = replace(application, findings=findings)
        blocked = application.blocked
        if blocked is not None:
            application = replace(
                application,
                status="rejected",
                reviewer="automatic checks",
                reason=f"{blocked.check}: {blocked.detail}",
                decided_at=now,
            )
        with self.issuer.store.transaction() as conn:
            self.store.create_application(application, conn=conn)
            created = (
                None
                if blocked is not None
                else self.issuer.create_offer(
                    name,
                    vct=vct,
                    claims=claims,
                    expires_in=APPLICATION_OFFER_TTL,
                    application_id=application.id,
                    conn=conn,
                )
            )
        if created is not None:
            application = replace(application, offer_id=created.record.id)
        return application, created

    def applications(self, name: str, status: Status | None = None) -> tuple[Application, ...]:
        """The review queue (``status`` filters)."""
        self.issuer.issuer(name)
        return self.store.applications(name, status=status)

    def application(self, name: str, application_id: str) -> Application:
        """One application."""
        self.issuer.issuer(name)
        return self.store.application(name, application_id)

    def document(self, name: str, application_id: str, sha256: str) -> tuple[bytes, str]:
        """A proof document of an application and its media type."""
        self.issuer.issuer(name)
        ref = self.store.has_document(name, application_id, sha256)
        return self.documents.get(ref.sha256), ref.media_type

    def sweep_documents(self, *, grace: int = ORPHAN_GRACE) -> int:
        """Delete uploaded documents no application refers to (left by a failed or interrupted
        submission) once older than ``grace`` seconds; how many were deleted.

        The referenced set is read first: a document stored after that is younger than the
        grace period, and so is one reused by a submission in flight (storing refreshes it).
        """
        referenced = self.store.document_hashes()
        return self.documents.sweep(referenced, older_than=self.clock.now() - grace)

    def approve(self, name: str, application_id: str, *, reviewer: str) -> Application:
        """An officer approves: the wallet's next deferred request gets the credential."""
        self.issuer.issuer(name)
        current = self.store.application(name, application_id)
        # the authority must still be able to issue it, or approving would only defer a refusal
        self.issuer.authorities.check_issuable(name, vct=current.vct, claims=current.claims)
        return self.store.decide(
            name,
            application_id,
            status="approved",
            reviewer=check_reviewer(reviewer),
            reason=None,
            now=self.clock.now(),
        )

    def reject(self, name: str, application_id: str, *, reviewer: str, reason: str) -> Application:
        """An officer rejects, saying why: the wallet's next request is denied."""
        self.issuer.issuer(name)
        return self.store.decide(
            name,
            application_id,
            status="rejected",
            reviewer=check_reviewer(reviewer),
            reason=check_reason(reason),
            now=self.clock.now(),
        )
