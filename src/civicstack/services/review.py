"""Citizens' applications under review: the desk between an application and its credential.

OpenID4VCI leaves out of scope how the End-User provides the information a credential is issued
from (§3.5 step 1), and offers deferred issuance (§9) for "a manual review process being
required" (§8.3). This is that process: a citizen applies with claims and proof documents
(kept by hash, typed by content); automatic checks run at once through the
:class:`~civicstack.openid4vci.applications.ApplicationCheck` seam (a blocking finding rejects the
application there and then); otherwise the citizen gets an offer with a Transaction Code, their
wallet redeems it and is told to come back (202 with a ``transaction_id``), and an officer
approves or rejects, after which the wallet's next deferred request is answered.

Anyone may apply, so the desk bounds what strangers can make it store
(:mod:`civicstack.services.issuer.intake`): a submission rate per client
(:meth:`ApplicationDesk.admit`, 429 with ``Retry-After``), a disk quota for the documents of
pending applications (507, nothing written), the size caps of
:class:`~civicstack.openid4vci.applications.ApplicationLimits`; and it keeps documents only as
long as the retention schedule says (:mod:`civicstack.services.issuer.retention`).
:class:`Sweeper` applies that schedule, deletes documents no application refers to and forgets
full rate buckets, periodically, in a background thread that ``civic up`` starts once.

The desk declares what it keeps as Protocols: :class:`ApplicationRecords` (implemented by
:class:`civicstack.stores.applications.ApplicationStore`) and :class:`DocumentFiles`
(:class:`civicstack.stores.documents.DocumentStore`); :mod:`civicstack.platform` wires them in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from civicstack._crypto import sha256_digest
from civicstack.errors import InputError
from civicstack.openid4vci.applications import (
    DEFAULT_APPLICATION_LIMITS,
    Application,
    ApplicationCheck,
    ApplicationLimits,
    DocumentRef,
    Status,
    check_reason,
    check_reviewer,
    sniff_document,
)
from civicstack.openid4vci.offers import new_id
from civicstack.services.issuer import APPLICATION_OFFER_TTL, CreatedOffer, CredentialIssuer
from civicstack.services.issuer.intake import DocumentQuota, SubmissionRate, client_key
from civicstack.services.issuer.retention import RetentionSchedule
from civicstack.types import Clock

log = logging.getLogger("civicstack.review")

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: How old an unreferenced document must be before a sweep deletes it: far longer than any
#: submission takes from storing its documents to committing the application.
ORPHAN_GRACE = 24 * 3600
#: Seconds between two sweeps while ``civic up`` runs (``CIVIC_SWEEP_INTERVAL``).
SWEEP_INTERVAL = 300


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

    def document_hashes(self, *, conn: Connection | None = None) -> set[str]:
        """The SHA-256 of every document whose file some application still keeps."""
        ...

    def has_document(self, authority: str, application_id: str, sha256: str) -> DocumentRef:
        """The document ``sha256`` of an application; ``not_found`` otherwise,
        ``documents_expired`` when its file was deleted under the retention schedule."""
        ...

    def serialise_documents(self, conn: Connection) -> None:
        """Inside a write transaction: keep other submissions and expiries out until it ends."""
        ...

    def pending_document_bytes(self, *, conn: Connection) -> int:
        """The bytes of the documents of pending applications whose files are kept."""
        ...

    def spend_submission_token(
        self, client: str, *, now: int, admit: Callable[[float | None, int], float]
    ) -> None:
        """Apply ``admit`` to ``client``'s bucket in one transaction (it raises to refuse)."""
        ...

    def forget_full_buckets(self, *, now: int) -> int:
        """Delete the buckets full again by ``now``; how many."""
        ...

    def expire_documents(
        self, *, decided_before: int, submitted_before: int, now: int, conn: Connection
    ) -> set[str]:
        """Mark the documents due under the schedule as expired at ``now``; their SHA-256."""
        ...


class DocumentFiles(Protocol):
    """Uploaded documents' bytes by SHA-256."""

    def put(self, content: bytes) -> str:
        """Keep ``content``; its hex SHA-256."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes of document ``sha256``."""
        ...

    def delete(self, sha256: str) -> bool:
        """Delete document ``sha256``; whether there was one."""
        ...

    def sweep(self, keep: Container[str], *, older_than: float) -> int:
        """Delete documents not in ``keep`` last modified before ``older_than``; how many."""
        ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep deleted."""

    expired: int  # files deleted under the retention schedule
    orphans: int  # files no application refers to (a failed submission's), and temporaries
    buckets: int  # full rate buckets forgotten

    def __bool__(self) -> bool:
        return bool(self.expired or self.orphans)


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
        limits: ApplicationLimits = DEFAULT_APPLICATION_LIMITS,
        rate: SubmissionRate | None = None,
        quota: DocumentQuota | None = None,
        retention: RetentionSchedule | None = None,
    ) -> None:
        self.issuer = issuer
        self.store = store
        self.documents = documents
        self.checks = checks
        self.clock = clock
        self.limits = limits
        self.rate = rate or SubmissionRate()
        self.quota = quota or DocumentQuota()
        self.retention = retention or RetentionSchedule()

    def admit(self, address: str | None) -> None:
        """Spend a token of the client at remote ``address`` (:func:`client_key`) before it
        may submit; :class:`~civicstack.errors.RetryLaterError` (``rate_limited``) when it has none.
        The bucket is in the database, so every worker process spends from the same one."""
        self.store.spend_submission_token(
            client_key(address), now=self.clock.now(), admit=self.rate.admit
        )

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
        documents are PDF, PNG or JPEG files within :attr:`limits`. Automatic checks run at
        once: a blocking finding rejects the application; otherwise it waits for an officer,
        and the citizen gets an offer (with a Transaction Code) their wallet can redeem now and
        collect later (§9). A pending application whose documents would take the documents of
        pending applications over :attr:`quota` is refused (``storage_full``) with nothing
        written; the check and the writes hold the documents' lock, so concurrent submissions
        cannot overshoot it together.
        """
        self.issuer.issuer(name)
        if len(documents) > self.limits.documents:
            raise InputError("too_large", f"at most {self.limits.documents} documents")
        types = [sniff_document(content, limits=self.limits) for content in documents]
        self.issuer.authorities.check_issuable(name, vct=vct, claims=claims)
        now = self.clock.now()
        refs = tuple(
            DocumentRef(sha256_digest(content).hex(), len(content), media_type)
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
                # refused before any officer looks: its documents are not kept at all (their
                # hashes are), so refused submissions cannot fill the disk past the quota
                documents_expired_at=now if refs else None,
            )
        with self.issuer.store.transaction() as conn:
            self.store.serialise_documents(conn)
            if blocked is None:
                used = self.store.pending_document_bytes(conn=conn)
                self.quota.check(used, sum(ref.size for ref in refs))
                # stored before the record that names them commits: a failed commit leaves
                # only files the orphan sweep deletes, never a record naming a missing file
                for content in documents:
                    self.documents.put(content)
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

    def expire_documents(self) -> int:
        """Apply the retention schedule: mark the documents of applications decided, or
        pending, for longer than it allows as expired and delete their files (unless an
        application whose documents are kept refers to the same bytes); how many files.

        Runs under the documents' lock, so no submission storing the same bytes is between
        its write and its commit meanwhile. Should the commit fail after the files went, the
        applications stay unmarked and the next sweep marks them: they were due anyway.
        """
        now = self.clock.now()
        deleted = 0
        with self.issuer.store.transaction() as conn:
            self.store.serialise_documents(conn)
            expired = self.store.expire_documents(
                decided_before=self.retention.decided_before(now),
                submitted_before=self.retention.submitted_before(now),
                now=now,
                conn=conn,
            )
            if expired:
                kept = self.store.document_hashes(conn=conn)
                deleted = sum(self.documents.delete(sha) for sha in sorted(expired - kept))
        return deleted

    def sweep(self) -> SweepReport:
        """One sweep: the retention schedule, then documents no application keeps (older than
        :data:`ORPHAN_GRACE`), then the rate buckets that are full again."""
        expired = self.expire_documents()
        orphans = self.sweep_documents()
        buckets = self.store.forget_full_buckets(now=self.clock.now())
        return SweepReport(expired=expired, orphans=orphans, buckets=buckets)

    def sweep_documents(self, *, grace: int = ORPHAN_GRACE) -> int:
        """Delete uploaded documents no application keeps (left by a failed or interrupted
        submission, or expired) once older than ``grace`` seconds; how many were deleted.

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


def sweep_until(
    sweep: Callable[[], SweepReport],
    *,
    interval: float,
    stop: threading.Event,
    report: Callable[[SweepReport], None] | None = None,
) -> int:
    """Run ``sweep`` now and then every ``interval`` seconds until ``stop`` is set; how many
    sweeps ran. A sweep that fails (the database away for a moment, a disk error) is logged
    and the next one runs on time: the sweeper outlives what it cleans up after."""
    runs = 0
    while not stop.is_set():
        try:
            done = sweep()
        except Exception:  # any failure: logged, retried at the next interval
            log.exception("the document sweep failed; retrying in %s s", interval)
        else:
            if report is not None:
                report(done)
        runs += 1
        if stop.wait(interval):
            break
    return runs


class Sweeper:
    """:func:`sweep_until` in a daemon thread: started once (by ``civic up``, not by each
    worker: one process sweeps, whatever the number of workers), stopped cleanly by
    :meth:`stop`, which waits for a sweep in progress to end."""

    def __init__(
        self,
        sweep: Callable[[], SweepReport],
        *,
        interval: float = SWEEP_INTERVAL,
        report: Callable[[SweepReport], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.stopping = threading.Event()
        self.on_stop = on_stop
        self.thread = threading.Thread(
            target=sweep_until,
            args=(sweep,),
            kwargs={"interval": interval, "stop": self.stopping, "report": report},
            name="civic-sweeper",
            daemon=True,
        )

    def start(self) -> Sweeper:
        """Start sweeping in the background; itself."""
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self.thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the sweep in progress, if any; then ``on_stop`` (closing what it used)."""
        self.stopping.set()
        if self.thread.ident is not None:
            self.thread.join(timeout)
        if self.on_stop is not None and not self.thread.is_alive():
            self.on_stop()
