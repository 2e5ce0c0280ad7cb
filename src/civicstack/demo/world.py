"""The demo world ``civic up`` seeds and ``civic demo`` tells its story in.

One root authority (the sovereign government) accredits two identity authorities and registers
four relying parties with their purposes. Both the in-process demo and the HTTP platform build
exactly this world, so a preset on the verifier (``right_to_work``, ``age_over_18``,
``identity``) always finds its relying party registered for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from civicstack.changes import change_vct
from civicstack.credential_types import (
    AGE_CHECK_CLAIMS,
    IDENTITY_CHECK_CLAIMS,
    PID,
    PID_VCT,
    RIGHT_TO_WORK,
    RIGHT_TO_WORK_CHECK_CLAIMS,
    RIGHT_TO_WORK_VCT,
)
from civicstack.errors import CivicError
from civicstack.platform import GOV_SERVICES_FILE, Platform
from civicstack.trust import Purpose

ROOT = ("root", "HM Government")

#: name -> (display name, vct, claims it may attest)
AUTHORITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "passport-office": ("HM Passport Office", PID_VCT, tuple(sorted(PID.claim_names))),
    "home-office": (
        "Home Office",
        RIGHT_TO_WORK_VCT,
        tuple(sorted(RIGHT_TO_WORK.claim_names)),
    ),
}


@dataclass(frozen=True)
class PurposeSpec:
    """A purpose a relying party is registered for."""

    id: str
    description: str
    vct: str
    claims: tuple[str, ...]


#: name -> (display name, purposes)
RELYING_PARTIES: dict[str, tuple[str, tuple[PurposeSpec, ...]]] = {
    "employer": (
        "Acme Ltd",
        (
            PurposeSpec(
                "right_to_work",
                "Check that you may work for us",
                RIGHT_TO_WORK_VCT,
                RIGHT_TO_WORK_CHECK_CLAIMS,
            ),
        ),
    ),
    "shop": (
        "Corner Shop",
        (PurposeSpec("age_check", "Sell you alcohol", PID_VCT, AGE_CHECK_CLAIMS),),
    ),
    "landlord": (
        "Northside Lettings",
        (
            PurposeSpec(
                "identity", "Confirm who you are before a tenancy", PID_VCT, IDENTITY_CHECK_CLAIMS
            ),
        ),
    ),
    "bank": (
        "Civic Bank",
        (
            PurposeSpec(
                "identity",
                "Know our customer (anti-money-laundering)",
                PID_VCT,
                (*IDENTITY_CHECK_CLAIMS, "nationalities", "document_number"),
            ),
        ),
    ),
}


# --- consent requesters (issue 11): registered relying parties with data-exchange purposes ---
# A data-exchange purpose's vct names the data service, urn:civicstack:data:<provider>:<service>
# (civicstack.services.consent.data_vct), and its claims are the DPV-PD categories it may ask
# for. The providers' data services themselves are seeded by the exchange's block.

#: The GP practice that asks for a new patient's record, and the one that holds it.
GP_REQUESTER, GP_PROVIDER = "gp-newtown", "gp-oldtown"

CONSENT_REQUESTERS: dict[str, tuple[str, tuple[PurposeSpec, ...]]] = {
    "insurer": (
        "Civic Mutual Insurance",
        (
            PurposeSpec(
                "insurance_quote",
                "Quote for your motor insurance from your driving record",
                "urn:civicstack:data:dvla:driving-record",
                ("dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage", "dpv-pd:CriminalConviction"),
            ),
        ),
    ),
    "council": (
        "Northside Council",
        (
            PurposeSpec(
                "council_tax_reduction",
                "Work out your council tax reduction from your tax summary",
                "urn:civicstack:data:hmrc:tax-summary",
                ("dpv-pd:Income", "dpv-pd:Tax"),
            ),
        ),
    ),
    GP_REQUESTER: (
        "Newtown Medical Practice",
        (
            PurposeSpec(
                "patient_registration",
                "Register you as a patient and take over your health record",
                f"urn:civicstack:data:{GP_PROVIDER}:patient-record",
                (
                    "dpv-pd:HealthRecord",
                    "dpv-pd:HealthHistory",
                    "dpv-pd:FamilyHealthHistory",
                    "dpv-pd:Prescription",
                ),
            ),
            PurposeSpec(
                "family_history",
                "A relative's family health history, for a patient's hereditary conditions",
                f"urn:civicstack:data:{GP_PROVIDER}:patient-record",
                ("dpv-pd:FamilyHealthHistory",),
            ),
        ),
    ),
}
#: The landlord (registered above for identity) also checks the right to rent.
LANDLORD_RIGHT_TO_RENT = PurposeSpec(
    "right_to_rent",
    "Check your right to rent a home in the UK",
    "urn:civicstack:data:home-office:right-to-rent",
    ("dpv-pd:Nationality", "dpv-pd:Residency"),
)
RELYING_PARTIES.update(CONSENT_REQUESTERS)
RELYING_PARTIES["landlord"] = (
    RELYING_PARTIES["landlord"][0],
    (*RELYING_PARTIES["landlord"][1], LANDLORD_RIGHT_TO_RENT),
)

# --- tell us once (issue 13): subscribers' purposes, the registrar, registration officers ---
# A tell-us-once purpose names one of the change service's two data services: `notices` (thin
# events: what changed and a link to fetch it) or `values` (full events: the new value).
TELL_US_ONCE_NOTICES = "urn:civicstack:data:tell-us-once:notices"
TELL_US_ONCE_VALUES = "urn:civicstack:data:tell-us-once:values"
COUNCIL_CHANGES = PurposeSpec(
    "change_of_address",
    "Keep your council tax and council services at your new address",
    TELL_US_ONCE_VALUES,
    ("dpv-pd:PhysicalAddress",),
)
GP_CHANGES = PurposeSpec(
    "change_notices",
    "Know when your address, name or contact details change, to update your patient record",
    TELL_US_ONCE_NOTICES,
    ("dpv-pd:Contact", "dpv-pd:Name", "dpv-pd:PhysicalAddress"),
)
RELYING_PARTIES["council"] = (
    RELYING_PARTIES["council"][0],
    (*RELYING_PARTIES["council"][1], COUNCIL_CHANGES),
)
RELYING_PARTIES[GP_REQUESTER] = (
    RELYING_PARTIES[GP_REQUESTER][0],
    (*RELYING_PARTIES[GP_REQUESTER][1], GP_CHANGES),
)
# --- one login (issue 14): the government services that sign citizens in with the wallet ---
#: What a service asks for to sign a citizen in: who they are (their PID's number and country,
#: from which the one-login provider computes the service's pairwise subject) and their names.
SIGN_IN_CLAIMS = (
    "issuing_country",
    "personal_administrative_number",
    "given_name",
    "family_name",
    "birthdate",
)


def sign_in(description: str, *extra: str) -> PurposeSpec:
    """A ``sign_in`` purpose over the PID (:data:`civicstack.sso.LOGIN_PURPOSE`)."""
    return PurposeSpec("sign_in", description, PID_VCT, (*SIGN_IN_CLAIMS, *extra))


RELYING_PARTIES["hmrc"] = (
    "HM Revenue & Customs",
    (sign_in("Sign you in to see your tax summary"),),
)
RELYING_PARTIES["council"] = (
    RELYING_PARTIES["council"][0],
    (
        *RELYING_PARTIES["council"][1],
        sign_in("Sign you in to see your council tax band and bin days", "address"),
    ),
)
RELYING_PARTIES[GP_REQUESTER] = (
    RELYING_PARTIES[GP_REQUESTER][0],
    (*RELYING_PARTIES[GP_REQUESTER][1], sign_in("Sign you in to your GP practice's services")),
)
#: The registrar of births and deaths: name -> (display name, {vct: claims}).
REGISTRARS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "registrar": (
        "General Register Office",
        {
            change_vct("birth"): (
                "birthdate",
                "country",
                "family_name",
                "given_name",
                "number",
                "uprn",
            ),
            change_vct("death"): ("country", "date", "number"),
        },
    ),
}
#: An issuing authority: name -> (display name, vct, claims it may attest).
AuthorityCast = Mapping[str, tuple[str, str, tuple[str, ...]]]
#: The registrars of births and deaths: name -> (display name, {vct: claims}).
RegistrarCast = Mapping[str, tuple[str, Mapping[str, tuple[str, ...]]]]
#: The relying parties: name -> (display name, purposes).
RelyingPartyCast = Mapping[str, tuple[str, tuple[PurposeSpec, ...]]]


def purposes_of(name: str, relying_parties: RelyingPartyCast = RELYING_PARTIES) -> list[Purpose]:
    """The :class:`Purpose` objects relying party ``name`` is registered for."""
    return [
        Purpose.create(p.id, p.description, {p.vct: list(p.claims)})
        for p in relying_parties[name][1]
    ]


def seed_world(
    platform: Platform,
    *,
    root: tuple[str, str] = ROOT,
    authorities: AuthorityCast = AUTHORITIES,
    relying_parties: RelyingPartyCast = RELYING_PARTIES,
    registrars: RegistrarCast = REGISTRARS,
) -> bool:
    """Set up ``root``, accredit ``authorities`` and register ``relying_parties`` with their
    purposes, in that order (by default: the demo world), unless a root authority exists
    already; True if the world was created.

    Idempotent and safe to call on every start: an existing root means the operator (or an
    earlier start) has set up the trust framework, and it is left as it is.
    """
    a = platform.authorities
    try:
        a.root()
    except CivicError as exc:
        if exc.code != "no_root_authority":
            raise
    else:
        return False
    a.init_root(*root)
    for name, (display, vct, claims) in authorities.items():
        a.accredit(name, scope={vct: list(claims)}, display_name=display)
    for name, (display, scope) in registrars.items():
        a.accredit(name, scope={v: list(c) for v, c in scope.items()}, display_name=display)
    for name, (display, _) in relying_parties.items():
        a.register(name, purposes=purposes_of(name, relying_parties), display_name=display)
    return True


def seed_electoral_offices(platform: Platform, authorities: Mapping[str, str]) -> int:
    """Enrol the electoral registration officer of each local authority (``{code: name}``)
    that has none yet (:meth:`ElectoralRoll.enrol_officer`); how many were enrolled."""
    return sum(platform.electoral.enrol_officer(code) for code in sorted(authorities))


#: Local authorities whose areas hold addresses (services/registers/seed.py: not counties).
_LOWER_TIER = frozenset({"UA", "MD", "LBO", "NMD"})


def electoral_authorities(platform: Platform) -> dict[str, str]:
    """The current lower-tier authorities of ``local-authority-eng`` (``{code: name}``): the
    ones addresses link to, each with a registration officer. Empty without that register."""
    registers = platform.registers
    try:
        head = registers.head("local-authority-eng")
    except CivicError as exc:
        if exc.code != "not_found":
            raise
        return {}
    out: dict[str, str] = {}
    after: str | None = None
    while page := registers.records(head, after=after, limit=1000):
        for row in page:
            item = row.record().item
            if "end-date" not in item.fields and item.get("local-authority-type") in _LOWER_TIER:
                out[row.entry.key] = str(item.get("name"))
        after = page[-1].entry.key
    return out


def seed_demo_world(platform: Platform) -> bool:
    """Create the demo world unless a root authority exists already; True if it was created."""
    return seed_world(platform)


# --- data providers (issue 11): the exchange's data services and their synthetic records ------

#: provider -> (service, title, categories): every data service the demo world publishes.
DATA_SERVICES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dvla": (
        "driving-record",
        "DVLA driving record",
        ("dpv-pd:CriminalConviction", "dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"),
    ),
    "hmrc": ("tax-summary", "HMRC tax summary", ("dpv-pd:Income", "dpv-pd:Tax")),
    "home-office": (
        "right-to-rent",
        "Home Office right to rent",
        ("dpv-pd:Nationality", "dpv-pd:Residency"),
    ),
    GP_PROVIDER: (
        "patient-record",
        "Patient record",
        (
            "dpv-pd:FamilyHealthHistory",
            "dpv-pd:HealthHistory",
            "dpv-pd:HealthRecord",
            "dpv-pd:Prescription",
        ),
    ),
    GP_REQUESTER: (
        "patient-record",
        "Patient record",
        (
            "dpv-pd:FamilyHealthHistory",
            "dpv-pd:HealthHistory",
            "dpv-pd:HealthRecord",
            "dpv-pd:Prescription",
        ),
    ),
}

#: The demo citizens (issuing country, personal administrative number): Amara first.
DEMO_CITIZENS: tuple[tuple[str, str], ...] = (
    ("GB", "QQ123456C"),
    ("GB", "QQ654321A"),
    ("GB", "QQ111222B"),
)


def demo_record(provider: str, number: str) -> dict[str, object]:
    """The synthetic record ``provider`` holds of the citizen with ``number`` (all invented)."""
    n = sum(map(ord, number))
    if provider == "dvla":
        return {
            "dpv-pd:VehicleLicense": {
                "licence_number": f"OKAFO{n % 1000:03d}05172AB9",
                "categories": ["AM", "B", "F", "K"],
                "valid_until": "2034-05-16",
            },
            "dpv-pd:VehicleUsage": {"penalty_points": n % 4, "endorsements": []},
            "dpv-pd:CriminalConviction": [],
        }
    if provider == "hmrc":
        return {
            "dpv-pd:Income": {"tax_year": "2025-26", "employment_income": 28000 + n % 9000},
            "dpv-pd:Tax": {"tax_year": "2025-26", "income_tax_paid": 3086 + n % 700, "due": 0},
        }
    if provider == "home-office":
        return {
            "dpv-pd:Nationality": ["GB"],
            "dpv-pd:Residency": {"right_to_rent": True, "time_limited": False},
        }
    return {
        "dpv-pd:HealthRecord": {"nhs_number_verified": True, "blood_group": "O+"},
        "dpv-pd:HealthHistory": [{"condition": "asthma", "since": "2004"}],
        "dpv-pd:FamilyHealthHistory": [{"relative": "mother", "condition": "type 2 diabetes"}],
        "dpv-pd:Prescription": [{"medicine": "salbutamol inhaler", "repeat": True}],
    }


def seed_exchange_world(platform: Platform) -> bool:
    """Publish the demo data services and write their records of the demo citizens (each keyed
    by the provider's own pairwise id of the citizen), unless they are published already; True
    if they were seeded. The GP practices take their titles from the ``gp-practice`` register
    when it is seeded (its first two open practices)."""
    from civicstack.pairwise import Subject
    from civicstack.services.verifier import Caller

    exchange = platform.exchange
    if any(service.provider in DATA_SERVICES for service in exchange.listed()):
        return False
    titles = _gp_titles(platform)
    admin = Caller(None)
    for provider, (service, title, categories) in DATA_SERVICES.items():
        shown = titles.get(provider, title)
        exchange.publish(
            admin,
            provider=provider,
            name=service,
            title=shown,
            categories=categories,
            kind="hosted",
        )
        records = [
            (
                platform.pairwise_id(provider, Subject(country, number)),
                demo_record(provider, number),
            )
            for country, number in DEMO_CITIZENS
        ]
        exchange.put_records(admin, provider, service, records)
    return True


def _gp_titles(platform: Platform) -> dict[str, str]:
    """The GP providers' titles from the first two open practices of the gp-practice register."""
    store = platform.register_store
    try:
        rows = store.records(store.head("gp-practice"), limit=50)
    except CivicError:  # the register is not seeded (tests, a fresh database): keep the defaults
        return {}
    practices = []
    for row in rows:
        item = row.record().item
        if item.get("end-date") is None:
            practices.append(f"{item.get('name')} ({row.entry.key}), patient record")
    practices = practices[:2]
    return dict(zip((GP_PROVIDER, GP_REQUESTER), practices, strict=False))


# --- GP practices on the platform (issue 11): organisations tied to gp-practice register keys ---


def seed_gp_practices(platform: Platform) -> dict[str, str]:
    """Tie the demo's practices (:data:`GP_REQUESTER`, :data:`GP_PROVIDER`) to the first two open
    practices of the ``gp-practice`` register that accept new patients, unless they are tied
    already; organisation -> ODS code (empty when the register is not seeded)."""
    from civicstack.services.verifier import Caller

    gp = platform.gp_registrations
    linked = {link.organisation: link.ods_code for link in gp.store.links()}
    if {GP_REQUESTER, GP_PROVIDER} <= set(linked):
        return {o: c for o, c in linked.items() if o in (GP_REQUESTER, GP_PROVIDER)}
    try:
        head = platform.registers.head("gp-practice")
    except CivicError:
        return {}
    rows = platform.registers.records(head, where=[("accepting-new-patients", "true")], limit=50)
    codes = [r.entry.key for r in rows if r.record().item.get("end-date") is None][:2]
    for org, code in zip((GP_REQUESTER, GP_PROVIDER), codes, strict=False):
        gp.link(Caller(None), org, code)
    return dict(zip((GP_REQUESTER, GP_PROVIDER), codes, strict=False))


# --- one login (issue 14): three government services as OIDC clients of the provider ---------

#: service -> (organisation, scope): the demo's government services behind one login, each a
#: client of the provider registered for its organisation, served at /services/<service>.
GOV_SERVICES: dict[str, tuple[str, str]] = {
    "tax": ("hmrc", "openid profile"),
    "health": (GP_REQUESTER, "openid profile"),
    "council": ("council", "openid profile address"),
}


def seed_gov_services(platform: Platform) -> bool:
    """Register the government services as clients of the one-login provider (client secret,
    ES256 ID tokens, back-channel logout) unless registered already; their registrations go to
    ``<data dir>/gov-services.json`` for the services' pages. True if they were registered."""
    import os

    from civicstack._crypto import json_dumps

    path = platform.settings.data_dir / GOV_SERVICES_FILE
    if path.exists():
        return False
    base = platform.settings.base_url.rstrip("/")
    registrations = {}
    for service, (organisation, scope) in GOV_SERVICES.items():
        here = f"{base}/services/{service}"
        answer = platform.sso.register(
            platform.admin_token,
            {
                "organisation": organisation,
                "client_name": f"{service.capitalize()} (demo service)",
                "redirect_uris": [f"{here}/callback"],
                "post_logout_redirect_uris": [f"{here}/"],
                "backchannel_logout_uri": f"{here}/backchannel-logout",
            },
        )
        registrations[service] = {
            "client_id": answer["client_id"],
            "client_secret": answer["client_secret"],
            "organisation": organisation,
            "scope": scope,
        }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json_dumps(registrations))
    return True
