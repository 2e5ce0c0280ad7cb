"""One settings object, read once from the environment (``CIVIC_*``) and command-line flags."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from civicstack.errors import InputError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    L = TypeVar("L", bound=DataclassInstance)
else:
    L = TypeVar("L")

#: The recipes whose caps ``CIVIC_LIMIT_<RECIPE>_<FIELD>`` overrides: recipe -> the module
#: holding its ``Limits`` (loaded only when an override names it). A recipe is listed once the
#: platform builds its service with the value, so no override is silently ignored.
LIMIT_RECIPES: Mapping[str, str] = MappingProxyType(
    {
        "fetch": "civicstack.fetch",
        "log": "civicstack.log.limits",
        "openid4vp": "civicstack.openid4vp.limits",
        "registers": "civicstack.registers.limits",
        "status": "civicstack.status",
        "verifier": "civicstack.services.verifier.limits",
        "consent": "civicstack.consent.limits",
    }
)
_LIMIT_PREFIX = "CIVIC_LIMIT_"
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def _default_data_dir() -> Path:
    return Path.home() / ".civic"


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name) or str(default)
    if not (len(text) <= 7 and text.isascii() and text.isdigit() and 0 < int(text) <= 2_592_000):
        raise InputError("invalid_request", f"{name} must be a number of seconds, 1 to 2592000")
    return int(text)


@dataclass(frozen=True)
class Settings:
    """Where state lives and how the server listens.

    ``CIVIC_DATA_DIR``      directory for the SQLite database, keys and uploads (default ~/.civic)
    ``CIVIC_DATABASE_URL``  ``sqlite:///PATH`` or ``postgresql://...`` (psycopg 3); default
                            ``sqlite:///<data dir>/civic.db``
    ``CIVIC_HOST``/``CIVIC_PORT``/``CIVIC_WORKERS``  where ``civic up`` listens
    ``CIVIC_BASE_URL``      the public URL of the platform (default http://HOST:PORT)
    ``CIVIC_ADMIN_TOKEN``   bearer token for admin APIs (default: generated into the data dir)
    ``CIVIC_EVENTS_URL``    ``nats://HOST:PORT``: webhook fan-out through NATS JetStream and
                            ``civic worker`` processes (default: the in-process worker over
                            the database outbox)
    ``CIVIC_EVENTS_RETRY_SCHEDULE``  space-separated waits between webhook attempts (default
                            ``5s 5m 30m 2h 5h 10h 10h``; then a dead letter)
    ``CIVIC_EVENTS_NAMESPACE``  prefix of the NATS stream, subjects and lease bucket (``civic``)
    ``CIVIC_EVENTS_ALLOW_PRIVATE``  ``1``: webhook endpoints may be on loopback and private
                            addresses (never link-local or metadata ones); default ``0``
    ``CIVIC_MASTER_KEY``    base64url of 32 bytes: the key-encryption key sealing authorities'
                            signing keys (default: generated into ``<data dir>/master-key``)
    ``CIVIC_PAIRWISE_KEY``  base64url of 32 bytes: the key of pairwise subject identifiers
                            (:mod:`civicstack.pairwise`; default: derived from the master key)
    ``CIVIC_WALLET_DIR``    the local holder wallet of ``civic wallet`` (default <data dir>/wallet)
    ``CIVIC_SERVER``        the platform CLI commands talk to (``--server``; default
                            http://127.0.0.1:8000): read by the CLI, not by the platform
    ``CIVIC_BRAND_NAME``    the product name in every page's header (default ``civicstack``)
    ``CIVIC_BRAND_COLOUR``  the header's colour, ``#rrggbb``, 4.5:1 against white (``#24323c``)
    ``CIVIC_BRAND_ACCENT``  the stripe under the header, ``#rrggbb``, 3:1 against white
                            (``#0e7c86``); a colour short of its contrast stops startup
                            (:class:`civicstack.web.Theme`)
    ``CIVIC_WALLET_UI_URL``  where a citizen's local web wallet listens, for the same-device
                            links of the desk pages (default ``http://127.0.0.1:8700``, the
                            port of ``civic wallet ui``; ``http://127.0.0.1:PORT`` only)
    ``CIVIC_REGISTERS_ARCHIVE``  directory of archived GOV.UK registers (``*.rsf``) seeded at the
                            first ``civic up`` (default: ``../shared/data/gov-uk-registers-2021``
                            next to a source checkout, when present)

    Citizens' applications (defaults in :mod:`civicstack.services.issuer.intake` and
    :mod:`civicstack.services.issuer.retention`; unset means the default):

    ``CIVIC_APPLICATION_BURST``        submissions one client may make at once (10)
    ``CIVIC_APPLICATIONS_PER_HOUR``    then submissions an hour per client (120)
    ``CIVIC_PENDING_DOCUMENTS_QUOTA``  bytes the documents of pending applications may take (1 GiB)
    ``CIVIC_RETENTION_DECIDED_DAYS``   days documents are kept after a decision (30)
    ``CIVIC_RETENTION_ABANDONED_DAYS`` days documents of an undecided application are kept (90)
    ``CIVIC_SWEEP_INTERVAL``           seconds between sweeps while ``civic up`` runs (300)
    ``CIVIC_CUSTODIAN_TOKEN_LIFETIME``  seconds a register custodian token lives when issued
                            without ``expires_in`` (default 7776000, 90 days; 0: no expiry)
    ``CIVIC_WITNESSES``     the witnesses every log's checkpoints are submitted to (C2SP
                            tlog-witness): ``<witness vkey>@<submission URL>`` entries
                            separated by spaces, commas or newlines
                            (:func:`civicstack.log.witness.parse_witnesses`)
    ``CIVIC_WITNESS_INTERVAL``  seconds between two rounds of submissions while ``civic up``
                            runs (default 2)
    ``CIVIC_ACCESS_LOG_WRITER``  ``process``: the access log's writer runs in a process of
                            its own, beside each API process (``civic up`` sets it unless
                            given); ``thread`` (the default when embedded): a thread of the
                            process that records (:mod:`civicstack.services.exchange.access_log`)
    ``CIVIC_VERIFIER_RESULT_RETENTION``  seconds a verified presentation result waits, sealed,
                            for its relying party before it is deleted unread (default 600;
                            fetched once, it is deleted at once)

    Limits: ``CIVIC_LIMIT_<RECIPE>_<FIELD>=<number>`` overrides one field of a recipe's frozen
    ``Limits`` (its class docstring lists the fields and their defaults); every service the
    platform builds gets its recipe's value. Each family:

    ``CIVIC_LIMIT_REGISTERS_*``  :class:`civicstack.registers.Limits` (``MAX_ITEM_BYTES``,
                            ``MAX_RSF_BYTES``, ``MAX_WRITE_RECORDS``, ``MAX_PAGE``...): the
                            registers service and its API
    ``CIVIC_LIMIT_OPENID4VP_*``  :class:`civicstack.openid4vp.Limits` (``VP_TOKEN_BYTES``,
                            ``PRESENTATIONS``...): the verifier reading wallets' answers
    ``CIVIC_LIMIT_VERIFIER_*``   :class:`civicstack.services.verifier.Limits`
                            (``PRESENTATION_BYTES``, ``KB_AGE``): the verifier service
    ``CIVIC_LIMIT_STATUS_*``     :class:`civicstack.status.Limits` (``TOKEN_BYTES``,
                            ``LIST_BYTES``, ``MAX_TTL``...): the status lists verification reads
    ``CIVIC_LIMIT_FETCH_*``      :class:`civicstack.fetch.Limits` (``REDIRECTS``, ``TIMEOUT``
                            in seconds): the platform's HTTP client
    ``CIVIC_LIMIT_LOG_*``        :class:`civicstack.log.Limits` (``APPEND_ENTRIES``,
                            ``READ_ENTRIES``...): the Merkle logs (registers, ...)

    Values are whole numbers of zero or more (``TIMEOUT`` may have a fraction). An unknown
    recipe or field, or a bad value, stops startup with ``invalid_setting`` naming the valid
    ones. Some fields may only be lowered (a register name or key fits the stores' columns);
    their docstrings say so.
    """

    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    base_url: str = ""
    admin_token: str | None = None
    events_url: str | None = None
    master_key: str | None = None
    pairwise_key: str | None = None
    wallet_dir: Path | None = None
    registers_archive: Path | None = None
    application_burst: int | None = None
    applications_per_hour: int | None = None
    pending_documents_quota: int | None = None
    retention_decided_days: int | None = None
    retention_abandoned_days: int | None = None
    sweep_interval: int | None = None
    custodian_token_lifetime: int = 90 * 24 * 3600
    verifier_result_retention: int = 600
    # --- events (issue 13) ---
    events_retry_schedule: str = "5s 5m 30m 2h 5h 10h 10h"
    events_allow_private: bool = False
    events_namespace: str = "civic"
    # --- pages (issue 14): checked by civicstack.web.Theme when an app is built ---
    brand_name: str = ""
    brand_colour: str = ""
    brand_accent: str = ""
    wallet_ui_url: str = "http://127.0.0.1:8700"
    #: ``CIVIC_WITNESSES`` as given (checked by :func:`civicstack.log.witness.parse_witnesses`).
    witnesses: str = ""
    witness_interval: int = 2
    #: ``CIVIC_ACCESS_LOG_WRITER``: ``"thread"`` or ``"process"``.
    access_log_writer: str = "thread"
    #: ``{recipe: {field: value}}`` from ``CIVIC_LIMIT_*``, checked; see :meth:`limits`.
    limit_overrides: Mapping[str, Mapping[str, int | float]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def limits(self, recipe: str, defaults: L) -> L:
        """``defaults`` (the recipe's ``DEFAULT_LIMITS``) with this deployment's
        ``CIVIC_LIMIT_<RECIPE>_*`` overrides applied."""
        return replace(defaults, **self.limit_overrides.get(recipe, {}))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``CIVIC_*`` variables; keyword overrides (from flags) win when not ``None``."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("CIVIC_DATA_DIR") or _default_data_dir()).expanduser()
        try:
            port = int(env.get("CIVIC_PORT", "8000"))
            workers = int(env.get("CIVIC_WORKERS", "1"))
            lifetime = int(env.get("CIVIC_CUSTODIAN_TOKEN_LIFETIME", str(90 * 24 * 3600)))
        except ValueError as exc:
            raise InputError(
                "invalid_request",
                "CIVIC_PORT, CIVIC_WORKERS and CIVIC_CUSTODIAN_TOKEN_LIFETIME must be integers",
            ) from exc
        if lifetime < 0:
            raise InputError("invalid_request", "CIVIC_CUSTODIAN_TOKEN_LIFETIME is 0 or more")
        retention = _seconds(env, "CIVIC_VERIFIER_RESULT_RETENTION", 600)
        witnesses = env.get("CIVIC_WITNESSES", "").strip()
        if witnesses:
            from civicstack.log.witness import parse_witnesses

            parse_witnesses(witnesses)  # a bad entry stops startup with invalid_setting
        settings = cls(
            data_dir=data_dir,
            database_url=env.get("CIVIC_DATABASE_URL") or "",
            host=env.get("CIVIC_HOST", "127.0.0.1"),
            port=port,
            workers=workers,
            base_url=env.get("CIVIC_BASE_URL", ""),
            admin_token=env.get("CIVIC_ADMIN_TOKEN") or None,
            events_url=env.get("CIVIC_EVENTS_URL") or None,
            master_key=env.get("CIVIC_MASTER_KEY") or None,
            pairwise_key=env.get("CIVIC_PAIRWISE_KEY") or None,
            wallet_dir=Path(env["CIVIC_WALLET_DIR"]).expanduser()
            if env.get("CIVIC_WALLET_DIR")
            else None,
            registers_archive=Path(env["CIVIC_REGISTERS_ARCHIVE"]).expanduser()
            if env.get("CIVIC_REGISTERS_ARCHIVE")
            else None,
            application_burst=_count(env, "CIVIC_APPLICATION_BURST", least=1),
            applications_per_hour=_count(env, "CIVIC_APPLICATIONS_PER_HOUR", least=1),
            pending_documents_quota=_count(env, "CIVIC_PENDING_DOCUMENTS_QUOTA", least=0),
            retention_decided_days=_count(env, "CIVIC_RETENTION_DECIDED_DAYS", least=0),
            retention_abandoned_days=_count(env, "CIVIC_RETENTION_ABANDONED_DAYS", least=1),
            sweep_interval=_count(env, "CIVIC_SWEEP_INTERVAL", least=1),
            custodian_token_lifetime=lifetime,
            verifier_result_retention=retention,
            witnesses=witnesses,
            witness_interval=_seconds(env, "CIVIC_WITNESS_INTERVAL", 2),
            access_log_writer=_access_log_writer(env),
            limit_overrides=limit_overrides(env),
            brand_name=env.get("CIVIC_BRAND_NAME", ""),
            brand_colour=env.get("CIVIC_BRAND_COLOUR", ""),
            brand_accent=env.get("CIVIC_BRAND_ACCENT", ""),
            wallet_ui_url=_wallet_ui_url(env),
            **_events_settings(env),
        )
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        if not settings.database_url:
            settings = replace(settings, database_url=f"sqlite:///{settings.data_dir / 'civic.db'}")
        if settings.wallet_dir is None:
            settings = replace(settings, wallet_dir=settings.data_dir / "wallet")
        if not settings.base_url:
            settings = replace(settings, base_url=f"http://{settings.host}:{settings.port}")
        return replace(settings, base_url=settings.base_url.rstrip("/"))


def _count(env: Mapping[str, str], name: str, *, least: int) -> int | None:
    """An integer setting of at least ``least``; ``None`` when unset (the default applies)."""
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) < least:
        raise InputError("invalid_request", f"{name} must be an integer >= {least}")
    return int(text)


def limit_overrides(env: Mapping[str, str]) -> Mapping[str, Mapping[str, int | float]]:
    """The ``CIVIC_LIMIT_<RECIPE>_<FIELD>`` variables of ``env``, checked against each recipe's
    ``Limits``; ``invalid_setting`` (naming the valid recipes or fields) on any bad one."""
    out: dict[str, dict[str, int | float]] = {}
    for name in sorted(env):
        if not name.startswith(_LIMIT_PREFIX):
            continue
        recipe, _, field_name = name[len(_LIMIT_PREFIX) :].lower().partition("_")
        if recipe not in LIMIT_RECIPES:
            raise InputError(
                "invalid_setting",
                f"{name}: no recipe {recipe!r}; CIVIC_LIMIT_<RECIPE>_<FIELD> takes RECIPE from "
                + ", ".join(r.upper() for r in LIMIT_RECIPES),
            )
        defaults = importlib.import_module(LIMIT_RECIPES[recipe]).DEFAULT_LIMITS
        known = {f.name: getattr(defaults, f.name) for f in fields(defaults)}
        if field_name not in known:
            raise InputError(
                "invalid_setting",
                f"{name}: {recipe} has no limit {field_name!r}; its limits are "
                + ", ".join(f"{_LIMIT_PREFIX}{recipe.upper()}_{f.upper()}" for f in known),
            )
        out.setdefault(recipe, {})[field_name] = _limit_value(
            name, env[name], fractional=isinstance(known[field_name], float)
        )
    return MappingProxyType({r: MappingProxyType(v) for r, v in out.items()})


def _limit_value(name: str, text: str, *, fractional: bool) -> int | float:
    text = text.strip()
    match = _NUMBER.fullmatch(text)
    if match is None or len(text) > 20 or (match.group(1) and not fractional):
        kind = "a number of zero or more" if fractional else "a whole number of zero or more"
        raise InputError("invalid_setting", f"{name} must be {kind}, not {text!r}")
    return float(text) if fractional else int(text)


def _events_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``CIVIC_EVENTS_RETRY_SCHEDULE`` (checked now) and ``CIVIC_EVENTS_ALLOW_PRIVATE``."""
    from civicstack.events.delivery import DEFAULT_SCHEDULE_TEXT, RetrySchedule

    schedule = env.get("CIVIC_EVENTS_RETRY_SCHEDULE", DEFAULT_SCHEDULE_TEXT)
    RetrySchedule.parse(schedule)
    allow = env.get("CIVIC_EVENTS_ALLOW_PRIVATE", "0").strip()
    if allow not in ("0", "1", ""):
        raise InputError("invalid_setting", "CIVIC_EVENTS_ALLOW_PRIVATE is 0 or 1")
    namespace = env.get("CIVIC_EVENTS_NAMESPACE", "civic")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", namespace):
        raise InputError("invalid_setting", "CIVIC_EVENTS_NAMESPACE is [a-z][a-z0-9_]{0,31}")
    return {
        "events_retry_schedule": schedule,
        "events_allow_private": allow == "1",
        "events_namespace": namespace,
    }


def _access_log_writer(env: Mapping[str, str]) -> str:
    """``CIVIC_ACCESS_LOG_WRITER``: ``thread`` (default) or ``process``."""
    text = env.get("CIVIC_ACCESS_LOG_WRITER", "").strip() or "thread"
    if text not in ("thread", "process"):
        raise InputError(
            "invalid_setting", f"CIVIC_ACCESS_LOG_WRITER is thread or process, not {text!r}"
        )
    return text


def _wallet_ui_url(env: Mapping[str, str]) -> str:
    """``CIVIC_WALLET_UI_URL``: the web wallet listens on 127.0.0.1 only, so nothing else."""
    text = env.get("CIVIC_WALLET_UI_URL", "http://127.0.0.1:8700")
    found = re.fullmatch(r"http://127\.0\.0\.1:([0-9]{1,5})", text)
    if found is None or not 0 < int(found.group(1)) < 65536:
        raise InputError(
            "invalid_setting", f"CIVIC_WALLET_UI_URL must be http://127.0.0.1:PORT, not {text!r}"
        )
    return text
