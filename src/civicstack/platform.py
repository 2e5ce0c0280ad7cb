"""The composition root: settings -> database -> the services' repositories.

``civic up`` (and each of its worker processes), the CLI commands that act on local state and the
test suite all build one :class:`Platform`. It owns the engine, runs migrations, and holds the
admin token. Components add their repositories here as properties; nothing else wires storage.

Authorities (issue 2): :attr:`Platform.authorities` sets up the root, accredits, registers relying
parties, issues and revokes; :meth:`Platform.trust_registry` is the registry rebuilt from the
stored statements (cached, re-checked against the database's trust version);
:meth:`Platform.fetcher` serves this platform's status lists from the database and fetches
anything else over HTTP; :meth:`Platform.verify` checks a presentation against both. Private keys
are wrapped under :attr:`Platform.master_key` (``CIVIC_MASTER_KEY``, else a key generated once
into ``<data dir>/master-key``, mode 0600).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from civicstack._crypto import b64url_decode, b64url_encode
from civicstack.errors import CivicError, InputError
from civicstack.settings import Settings
from civicstack.stores import db
from civicstack.types import Clock, Fetcher, SystemClock

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import httpx

    from civicstack.credentials import VerifiedCredential
    from civicstack.fetch import HttpFetcher
    from civicstack.log import NoteSigner
    from civicstack.openid4vci.applications import ApplicationCheck, ApplicationLimits
    from civicstack.pairwise import Subject
    from civicstack.registers.canonical import Item
    from civicstack.services.authorities import Authorities, StatusListFetcher
    from civicstack.services.changes import Changes, ElectoralRoll
    from civicstack.services.consent import Consents
    from civicstack.services.exchange import AccessHistories, ConsentCheck, Exchange
    from civicstack.services.gp_registration import GpRegistrations
    from civicstack.services.issuer import CredentialIssuer
    from civicstack.services.notifications import EventConsents, Notifications
    from civicstack.services.registers import Registers
    from civicstack.services.review import ApplicationDesk
    from civicstack.services.sso import LogoutDelivery, OpenIdProvider
    from civicstack.services.verifier import Verifier
    from civicstack.services.witnessing import Witnessing
    from civicstack.status import Limits as StatusLimits
    from civicstack.status import StatusListClient
    from civicstack.stores.applications import ApplicationStore
    from civicstack.stores.authorities import AuthorityStore
    from civicstack.stores.changes import ChangeStore
    from civicstack.stores.consent import ConsentStore
    from civicstack.stores.documents import DocumentStore
    from civicstack.stores.events import EventStore
    from civicstack.stores.exchange import AccessLogStore, DataServiceStore
    from civicstack.stores.gp_registration import GpStore
    from civicstack.stores.issuance import IssuanceStore
    from civicstack.stores.log import LogStore
    from civicstack.stores.registers import RegisterStore
    from civicstack.stores.sso import SsoStore
    from civicstack.stores.status_lists import StatusListStore
    from civicstack.stores.trust import TrustStore
    from civicstack.stores.verifier import VerifierStore
    from civicstack.trust import TrustRegistry


#: Where the demo government services' OIDC client registrations are kept (in the data
#: directory, mode 0600): written by the demo world's seeding, read by their pages.
GOV_SERVICES_FILE = "gov-services.json"


class Platform:
    """One deployment's state, reachable from every adapter."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()

    @cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine for ``settings.database_url``."""
        return db.create_engine(self.settings.database_url)

    @cached_property
    def logs(self) -> LogStore:
        """The Merkle logs (one per register, the access log...)."""
        from civicstack.log import DEFAULT_LIMITS as LOG_LIMITS
        from civicstack.stores.log import LogStore

        return LogStore(self.engine, limits=self.settings.limits("log", LOG_LIMITS))

    @cached_property
    def register_store(self) -> RegisterStore:
        """The registers' tables, each register with its own log in :attr:`logs` and key sealed
        by :attr:`master_key`; new logs are named after the platform's host (C2SP origins)."""
        from civicstack.stores.registers import RegisterStore

        host = self.settings.base_url.split("://", 1)[-1]
        return RegisterStore(self.engine, self.logs, lambda: self.master_key, origin_prefix=host)

    @cached_property
    def registers(self) -> Registers:
        """The registers service: its writes (admin or custodian token) over
        :attr:`register_store`."""
        from civicstack.registers import DEFAULT_LIMITS
        from civicstack.services.registers import Registers

        return Registers(
            self.register_store,
            admin_check=self.check_admin,
            clock=self.clock,
            token_lifetime=self.settings.custodian_token_lifetime,
            limits=self.settings.limits("registers", DEFAULT_LIMITS),
        )

    # --- witnesses (issue 12) ---------------------------------------------------------------

    @cached_property
    def witnessing(self) -> Witnessing:
        """Submits every log's checkpoints to the witnesses of ``CIVIC_WITNESSES`` and records
        their cosignatures (:mod:`civicstack.services.witnessing`)."""
        from civicstack.log.witness import parse_witnesses
        from civicstack.services.witnessing import HttpWitnessTransport, Witnessing

        return Witnessing(
            self.logs, parse_witnesses(self.settings.witnesses), HttpWitnessTransport()
        )

    def migrate(self) -> None:
        """Bring the schema to the latest revision of every component."""
        self.settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        db.upgrade(self.engine)

    def ping(self) -> None:
        """Return if the database answers, else raise."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @cached_property
    def admin_token(self) -> str:
        """The admin bearer token: ``CIVIC_ADMIN_TOKEN``, else one generated into the data dir."""
        if self.settings.admin_token:
            return self.settings.admin_token
        path = self.settings.data_dir / "admin-token"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Another worker may win the race; then read what it wrote.
            with contextlib.suppress(FileExistsError):
                _write_secret(path, secrets.token_urlsafe(32))
        return path.read_text().strip()

    def check_admin(self, presented: str | None) -> None:
        """Raise ``unauthorized`` unless ``presented`` is the admin token."""
        if not presented or not hmac.compare_digest(presented.encode(), self.admin_token.encode()):
            raise CivicError("unauthorized", "admin endpoints need the admin bearer token")

    @cached_property
    def master_key(self) -> bytes:
        """The 32-byte key-encryption key of the authorities' (and registers' log) signing keys."""
        if self.settings.master_key:
            return _master_key(self.settings.master_key, "CIVIC_MASTER_KEY")
        path = self.settings.data_dir / "master-key"
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Another process may win the race; then read what it wrote.
            with contextlib.suppress(FileExistsError):
                _write_secret(path, b64url_encode(secrets.token_bytes(32)))
        return _master_key(path.read_text().strip(), str(path))

    @cached_property
    def pairwise_key(self) -> bytes:
        """The key of every pairwise subject identifier (:mod:`civicstack.pairwise`):
        ``CIVIC_PAIRWISE_KEY``, else derived from :attr:`master_key`."""
        from civicstack.pairwise import derive_pairwise_key

        if self.settings.pairwise_key:
            return _master_key(self.settings.pairwise_key, "CIVIC_PAIRWISE_KEY")
        return derive_pairwise_key(self.master_key)

    def pairwise_id(self, sector: str, subject: Subject) -> str:
        """The id organisation ``sector`` knows ``subject`` by."""
        from civicstack.pairwise import pairwise_id

        return pairwise_id(self.pairwise_key, sector, subject)

    # --- authorities (issue 2) -------------------------------------------------------------

    @cached_property
    def authority_store(self) -> AuthorityStore:
        """Hosted authorities and their wrapped keys."""
        from civicstack.stores.authorities import AuthorityStore

        return AuthorityStore(self.engine, lambda: self.master_key)

    @cached_property
    def trust(self) -> TrustStore:
        """The stored trust statements and the registry cache."""
        from civicstack.stores.trust import TrustStore

        return TrustStore(self.engine)

    @cached_property
    def status_lists(self) -> StatusListStore:
        """Status lists and the issued-credential index."""
        from civicstack.stores.status_lists import StatusListStore

        return StatusListStore(self.engine)

    @cached_property
    def authorities(self) -> Authorities:
        """The platform's authorities at work (see :mod:`civicstack.services.authorities`)."""
        from civicstack.services.authorities import Authorities

        return Authorities(
            store=self.authority_store,
            trust=self.trust,
            status=self.status_lists,
            base_url=self.settings.base_url,
            clock=self.clock,
        )

    def trust_registry(self, *, max_age: float = 0.0) -> TrustRegistry:
        """The trust registry as stored now (``no_root_authority`` before a root exists).

        Each call checks the trust version (one primary-key read) and catches up on changes
        made by any process; ``max_age`` > 0 skips that read for a registry checked within
        that many seconds (for hot verification paths).
        """
        return self.trust.registry(max_age=max_age)

    def fetcher(self) -> Fetcher:
        """Status lists of this platform from the database, anything else over HTTP."""
        return self._status_fetcher

    @cached_property
    def _http(self) -> HttpFetcher:
        from civicstack.fetch import DEFAULT_LIMITS, HttpFetcher

        return HttpFetcher(limits=self.settings.limits("fetch", DEFAULT_LIMITS))

    @cached_property
    def _status_fetcher(self) -> StatusListFetcher:
        from civicstack.services.authorities import StatusListFetcher

        return StatusListFetcher(self.authorities, self._http)

    @cached_property
    def status_checker(self) -> StatusListClient:
        """A status-list client over :meth:`fetcher`, caching tokens for their ``ttl``."""
        from civicstack.status import StatusListClient

        return StatusListClient(self.fetcher(), clock=self.clock, limits=self._status_limits)

    @cached_property
    def _status_limits(self) -> StatusLimits:
        from civicstack.status import DEFAULT_LIMITS

        return self.settings.limits("status", DEFAULT_LIMITS)

    def verify(
        self, presentation: str, *, aud: str, nonce: str, max_age: float = 0.0
    ) -> VerifiedCredential:
        """Verify an SD-JWT VC presentation: signature, key binding, chain to the root,
        scope, and status. Returns what was verified or raises a ``VerificationError``."""
        from civicstack.credentials import verify_presentation

        return verify_presentation(
            presentation,
            trust=self.trust_registry(max_age=max_age),
            aud=aud,
            nonce=nonce,
            now=self.clock.now(),
            status=self.status_checker,
        )

    # --- verifier (issue 3) ----------------------------------------------------------------

    @cached_property
    def verifier_store(self) -> VerifierStore:
        """Presentation requests (their results sealed under a key derived from
        :attr:`master_key`), the KB-JWT replay guard and relying parties' API keys."""
        from civicstack.openid4vp.verifier_requests import derive_result_key
        from civicstack.stores.verifier import VerifierStore

        return VerifierStore(self.engine, lambda: derive_result_key(self.master_key))

    @cached_property
    def verifier(self) -> Verifier:
        """The OpenID4VP verifier for this platform's relying parties."""
        from civicstack.openid4vp import DEFAULT_LIMITS as VP_LIMITS
        from civicstack.services.verifier import DEFAULT_LIMITS, FreshLocalStatus, Verifier

        return Verifier(
            authorities=self.authorities,
            store=self.verifier_store,
            registry=lambda max_age: self.trust_registry(max_age=max_age),
            status=FreshLocalStatus(
                self.fetcher(),
                self.status_checker,
                self.settings.base_url,
                self.clock,
                limits=self._status_limits,
            ),
            clock=self.clock,
            base_url=self.settings.base_url,
            admin_check=self.check_admin,
            result_retention=self.settings.verifier_result_retention,
            page_key=_derive(self.master_key, b"civicstack/verifier-desk-page/v1"),
            limits=self.settings.limits("verifier", DEFAULT_LIMITS),
            vp_limits=self.settings.limits("openid4vp", VP_LIMITS),
        )

    # --- consent (issue 11) ----------------------------------------------------------------

    @cached_property
    def consent_store(self) -> ConsentStore:
        """Consent requests, records (every version), met subjects and nonces."""
        from civicstack.stores.consent import ConsentStore

        return ConsentStore(self.engine, lambda: _derive(self.master_key, b"civicstack/consent/v1"))

    @cached_property
    def consents(self) -> Consents:
        """The consent service: requests, the citizen's signed answers, withdrawal and the
        coverage decision the data exchange relies on (``check_access``)."""
        from civicstack.consent import DEFAULT_LIMITS
        from civicstack.services.consent import Consents

        return Consents(
            store=self.consent_store,
            registry=lambda max_age: self.trust_registry(max_age=max_age),
            relying_party=self.verifier.relying_party,
            authenticate=self.verifier.authenticate,
            verify=lambda presentation, aud, nonce: self.verify(
                presentation, aud=aud, nonce=nonce, max_age=1
            ),
            pairwise=self.pairwise_id,
            clock=self.clock,
            base_url=self.settings.base_url,
            nonce_key=_derive(self.master_key, b"civicstack/pid-nonce/v1"),
            limits=self.settings.limits("consent", DEFAULT_LIMITS),
        )

    # --- credential issuance (issue 3) -----------------------------------------------------

    #: Automatic checks of citizens' applications; no register is wired in yet, and the
    #: default says so on every application (see civicstack.openid4vci.applications).
    application_checks: ApplicationCheck | None = None

    @property
    def application_limits(self) -> ApplicationLimits:
        """The size caps of a citizen's application; the platform's body cap follows from them
        (:attr:`ApplicationLimits.max_body`)."""
        from civicstack.openid4vci.applications import DEFAULT_APPLICATION_LIMITS

        return DEFAULT_APPLICATION_LIMITS

    @cached_property
    def issuance(self) -> IssuanceStore:
        """Offers, tokens, nonces, applications and deferred transactions."""
        from civicstack.services.issuer import derive_issuance_key
        from civicstack.stores.issuance import IssuanceStore

        return IssuanceStore(self.engine, lambda: derive_issuance_key(self.master_key))

    @cached_property
    def documents(self) -> DocumentStore:
        """Uploaded proof documents, content-addressed under ``<data dir>/documents``."""
        from civicstack.stores.documents import DocumentStore

        return DocumentStore(
            self.settings.data_dir / "documents",
            max_bytes=self.application_limits.document_bytes,
        )

    @cached_property
    def applications(self) -> ApplicationStore:
        """Citizens' applications and their documents' records."""
        from civicstack.services.issuer import derive_issuance_key
        from civicstack.stores.applications import ApplicationStore

        return ApplicationStore(self.engine, lambda: derive_issuance_key(self.master_key))

    @cached_property
    def issuer(self) -> CredentialIssuer:
        """Every hosted authority as an OpenID4VCI Credential Issuer."""
        from civicstack.services.issuer import CredentialIssuer, derive_issuance_key

        return CredentialIssuer(
            authorities=self.authorities,
            store=self.issuance,
            applications=self.applications,
            key=lambda: derive_issuance_key(self.master_key),
            base_url=self.settings.base_url,
            clock=self.clock,
        )

    @cached_property
    def review(self) -> ApplicationDesk:
        """Citizens' applications: submission, automatic checks, officers' decisions."""
        from civicstack.openid4vci.applications import AllChecks, UprnInAddressRegister
        from civicstack.services.issuer.intake import DocumentQuota, SubmissionRate
        from civicstack.services.issuer.retention import RetentionSchedule
        from civicstack.services.review import ApplicationDesk

        # The platform's own registers are the authoritative source for automatic checks.
        checks = self.application_checks or AllChecks([UprnInAddressRegister(self.register_store)])
        s = self.settings

        def given(**values: int | None) -> dict[str, int]:  # unset settings keep the default
            return {k: v for k, v in values.items() if v is not None}

        return ApplicationDesk(
            issuer=self.issuer,
            store=self.applications,
            documents=self.documents,
            checks=checks,
            clock=self.clock,
            limits=self.application_limits,
            rate=SubmissionRate(
                **given(burst=s.application_burst, per_hour=s.applications_per_hour)
            ),
            quota=DocumentQuota(**given(max_bytes=s.pending_documents_quota)),
            retention=RetentionSchedule(
                **given(
                    decided_days=s.retention_decided_days,
                    abandoned_days=s.retention_abandoned_days,
                )
            ),
        )

    # --- events: tell us once (issue 13) ---------------------------------------------------

    @cached_property
    def event_consents(self) -> EventConsents:
        """Who hears of a citizen's change (:class:`EventConsents`): the organisations whose
        tell-us-once consent covers it (:class:`ConsentedEvents` over :attr:`consents`), and
        the electoral registration officers of the citizen's roll (a legal duty,
        :meth:`ElectoralRoll.covers`)."""
        from civicstack.services.consent.events import ConsentedEvents
        from civicstack.services.notifications import AnyOf

        return AnyOf(ConsentedEvents(self.consents, self.pairwise_id), self.electoral)

    @cached_property
    def event_store(self) -> EventStore:
        """Subscriptions, the transactional outbox, deliveries and attempts."""
        from civicstack.stores.events import EventStore

        return EventStore(self.engine, lambda: _derive(self.master_key, b"civicstack/events/v1"))

    @cached_property
    def notifications(self) -> Notifications:
        """Webhook subscriptions, the outbox's fan-out under consent, delivery records."""
        from civicstack.services.notifications import (
            ConsentedAudience,
            NoConsents,
            Notifications,
        )

        return Notifications(
            self.event_store,
            audience=ConsentedAudience(
                self.event_consents or NoConsents(), self.pairwise_id, self.clock
            ),
            authenticate=self.verifier.authenticate,
            relying_party=self.verifier.relying_party,
            clock=self.clock,
            base_url=self.settings.base_url,
            allow_private=self.settings.events_allow_private,
        )

    # --- data exchange and the access log (issue 11) ----------------------------------------

    @cached_property
    def access_log_signer(self) -> NoteSigner:
        """The access log's checkpoint key: Ed25519 from a seed derived from :attr:`master_key`
        (so every worker signs with it and nothing more is stored); origin ``<host>/access``."""
        from civicstack._crypto import PrivateKey
        from civicstack.log import NoteSigner

        seed = hmac.new(self.master_key, b"civicstack/access-log-key/v1", "sha256").digest()
        host = self.settings.base_url.split("://", 1)[-1].rstrip("/")
        return NoteSigner(f"{host}/access", PrivateKey.ed25519_from_seed(seed))

    @cached_property
    def access_log_store(self) -> AccessLogStore:
        """The access log (log ``access`` of :attr:`logs`) and its subjects' chain heads."""
        from civicstack.stores.exchange import AccessLogStore

        store = AccessLogStore(self.logs, self.access_log_signer)
        store.ensure()
        return store

    @cached_property
    def access_histories(self) -> AccessHistories:
        """Citizens' access histories with their completeness proofs (issue 12)."""
        from civicstack.services.exchange import AccessHistories

        return AccessHistories(
            storage=self.access_log_store,
            pid=self.consents,
            pairwise=self.pairwise_id,
            base_url=self.settings.base_url,
        )

    @cached_property
    def data_services(self) -> DataServiceStore:
        """Published data services and hosted records."""
        from civicstack.stores.exchange import DataServiceStore

        return DataServiceStore(self.engine)

    @cached_property
    def consent_check(self) -> ConsentCheck:
        """What the exchange asks about consents: the consent service (:attr:`consents`)."""
        return self.consents

    @cached_property
    def exchange(self) -> Exchange:
        """The data exchange: data services, consented fetches, the access log."""
        from civicstack.fetch import HttpRemoteRecords
        from civicstack.services.exchange import (
            AccessLog,
            AccessLogProcess,
            AccessRecorder,
            Exchange,
        )

        recorder: AccessRecorder
        if self.settings.access_log_writer == "process":
            recorder = AccessLogProcess(partial(run_access_log_writer, _picklable(self.settings)))
        else:
            recorder = AccessLog(self.access_log_store)
        return Exchange(
            services=self.data_services,
            access_log=recorder,
            consents=self.consent_check,
            registry=lambda max_age: self.trust_registry(max_age=max_age),
            identifier=lambda name: self.verifier.relying_party(name).identifier,
            remote=HttpRemoteRecords(),
            clock=self.clock,
        )

    # --- GP registration (issue 11) -------------------------------------------------------

    @cached_property
    def gp_store(self) -> GpStore:
        """Practice links, registrations and the relatives asked."""
        from civicstack.stores.gp_registration import GpStore

        return GpStore(self.engine)

    @cached_property
    def gp_registrations(self) -> GpRegistrations:
        """GP switching: practices from the ``gp-practice`` register, the record taken over
        through the exchange, relatives asked through the consent service."""
        from civicstack.services.gp_registration import GpRegistrations

        def practice_record(ods_code: str) -> dict[str, Any] | None:
            try:
                head = self.registers.head("gp-practice")
            except CivicError:
                return None
            rows = self.registers.records(head, where=[("gp-practice", ods_code)], limit=1)
            return dict(rows[0].record().item.fields) if rows else None

        return GpRegistrations(
            store=self.gp_store,
            practice_record=practice_record,
            has_record=lambda p, s, subject: self.data_services.record(p, s, subject) is not None,
            exchange=self.exchange,
            consents=self.consents,
            pairwise=self.pairwise_id,
            publishes=lambda org, service: self.data_services.service(org, service) is not None,
            clock=self.clock,
        )

    # --- tell us once: change reports and the electoral roll (issue 13) -----------------------

    @cached_property
    def change_store(self) -> ChangeStore:
        """Change reports (published through :attr:`event_store`'s outbox) and the roll."""
        from civicstack.services.changes import VALUE_SERVICES
        from civicstack.stores.changes import ChangeStore

        return ChangeStore(
            self.engine,
            self.event_store,
            self.data_services,
            VALUE_SERVICES,
            lambda: _derive(self.master_key, b"civicstack/changes/v1"),
        )

    @cached_property
    def changes(self) -> Changes:
        """The change service: citizens' and registrars' signed reports, checked against the
        registers, published with their events and roll moves in one transaction."""
        from civicstack.services.changes import Changes

        def record(register: str, key: str) -> Item | None:
            try:
                _, row = self.register_store.record(register, key)
            except CivicError as exc:
                if exc.code == "not_found":
                    return None
                raise
            return None if row is None else row.record().item

        return Changes(
            store=self.change_store,
            consents=self.consents,
            registry=lambda: self.trust_registry(max_age=1),
            record=record,
            signer=lambda name, now: self.authorities.signer(name, now=now),
            pairwise=self.pairwise_id,
            clock=self.clock,
            base_url=self.settings.base_url,
        )

    @cached_property
    def electoral(self) -> ElectoralRoll:
        """The electoral roll: automatic registration, opt-outs, the check at 18."""
        from civicstack.services.changes import ElectoralRoll

        def authority_name(code: str) -> str | None:
            item = self.changes.record("local-authority-eng", code)
            return None if item is None or "end-date" in item.fields else str(item.get("name"))

        return ElectoralRoll(
            store=self.change_store,
            changes=self.changes,
            pairwise=self.pairwise_id,
            authenticate=self.verifier.authenticate,
            officers=lambda: {h.name for h in self.authorities.list("relying_party")},
            register_officer=lambda name, purpose, display: (
                self.authorities.register(name, purposes=[purpose], display_name=display),
                None,
            )[1],
            authority_name=authority_name,
        )

    # --- one login: the OpenID Provider (issue 14) ------------------------------------------

    @cached_property
    def sso_store(self) -> SsoStore:
        """The provider's keys, clients, sessions, codes and tokens (sealed under a key derived
        from :attr:`master_key`)."""
        from civicstack.stores.sso import SsoStore

        return SsoStore(self.engine, lambda: _derive(self.master_key, b"civicstack/sso/v1"))

    #: How back-channel logout tokens reach clients; None: over HTTP (tests set their own).
    logout_delivery: LogoutDelivery | None = None
    #: How the demo government services (api/gov_services.py) reach the provider; None: over
    #: the network (tests route them to the app).
    service_http: httpx.Client | None = None

    @cached_property
    def gov_services_http(self) -> httpx.Client:
        """The demo government services' one HTTP client to the provider (:attr:`service_http`
        when a test set one); closed with the platform when made here."""
        if self.service_http is not None:
            return self.service_http
        import httpx

        return httpx.Client(timeout=10.0, follow_redirects=False)

    @cached_property
    def sso(self) -> OpenIdProvider:
        """The OpenID Provider: issuer ``CIVIC_BASE_URL``, endpoints under ``/oidc``; signing
        in is presenting a PID through :attr:`verifier`; subs are pairwise per organisation."""
        from civicstack.services.sso import HttpLogoutDelivery, OpenIdProvider

        return OpenIdProvider(
            store=self.sso_store,
            verifier=self.verifier,
            registry=lambda max_age: self.trust_registry(max_age=max_age),
            pairwise=self.pairwise_id,
            delivery=self.logout_delivery or HttpLogoutDelivery(),
            clock=self.clock,
            issuer=self.settings.base_url,
            admin_check=self.check_admin,
            code_key=_derive(self.master_key, b"civicstack/sso/code/v1"),
        )

    def close(self) -> None:  # noqa: PLR0912 - one release per component it may have made
        """Release database connections, the log and register stores and the HTTP clients."""
        if "exchange" in self.__dict__:
            self.exchange.close()
        if "data_services" in self.__dict__:
            self.data_services.close()
        if "consent_store" in self.__dict__:
            self.consent_store.close()
        if "access_log_store" in self.__dict__:
            self.access_log_store.close()
        if "register_store" in self.__dict__:
            self.register_store.close()
        if "logs" in self.__dict__:
            self.logs.close()
        if "_http" in self.__dict__:
            self._http.close()
        if "gov_services_http" in self.__dict__ and self.service_http is None:
            self.gov_services_http.close()
        if "sso" in self.__dict__:
            delivery = self.sso.delivery
            if hasattr(delivery, "close"):
                delivery.close()
        if "witnessing" in self.__dict__:
            transport = self.witnessing.transport
            if hasattr(transport, "close"):
                transport.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


def run_access_log_writer(settings: Settings, conn: Connection) -> None:
    """The access log's writer process (``CIVIC_ACCESS_LOG_WRITER=process``): this platform's
    access log store on its own connections, served over ``conn``
    (:func:`civicstack.services.exchange.serve_access_log`)."""
    from civicstack.services.exchange import serve_access_log

    platform = Platform(settings)
    try:
        serve_access_log(conn, platform.access_log_store)
    finally:
        platform.close()


def _picklable(settings: Settings) -> Settings:
    """``settings`` as a child process can be handed them (plain dicts for the limits)."""
    overrides = {recipe: dict(fields) for recipe, fields in settings.limit_overrides.items()}
    return replace(settings, limit_overrides=overrides)


def _derive(master_key: bytes, label: bytes) -> bytes:
    return hmac.new(master_key, label, "sha256").digest()


def _master_key(text: str, where: str) -> bytes:
    try:
        key = b64url_decode(text)
    except CivicError as exc:
        raise InputError("invalid_key", f"{where} is not base64url") from exc
    if len(key) != 32:
        raise InputError("invalid_key", f"{where} must hold 32 bytes (base64url, 43 characters)")
    return key


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
