"""The exchange's rules, pure: what a data fetch must satisfy before anything is released.

X-Road's model over plain HTTPS: an organisation (the *provider*) publishes a data service
through the platform; another (the *requester*, a registered relying party) asks it for data
categories about a citizen. The platform releases data only when, at ``now``:

1. the requester's registration holds: not suspended, registered (trust registry) for the
   purpose it names, and that purpose's ``vct`` is the data service
   (:func:`data_service_vct`) with every category asked among its claims
   (``relying_party_suspended``, ``unregistered_relying_party``, ``overasking``);
2. the service is published and offers every category asked (``unknown_data_service``,
   ``category_not_offered``);
3. the citizen's consent covers the access (the consent service decides: ``consent_not_found``,
   ``consent_not_active``, ``outside_consent``);
4. the provider has the record (``no_record``) or, for a remote service, answers in time with a
   well-formed record (``provider_unavailable``);
5. the access is durably in the access log (``access_log_unavailable`` otherwise).

Every refusal from step 1 on is itself logged (without data), with one of
:data:`REFUSAL_CODES`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from civicstack.errors import InputError
from civicstack.trust import RelyingPartyRegistration, TrustRegistry

__all__ = [
    "DATA_VCT_PREFIX",
    "REFUSAL_CODES",
    "SERVICE_NAME",
    "DataService",
    "check_offered",
    "check_requester",
    "data_service_vct",
]

#: ``urn:civicstack:data:<provider>:<service>``: the vct of a data service in a registration.
DATA_VCT_PREFIX = "urn:civicstack:data:"
#: Organisation and service names: lowercase slugs.
SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

#: The codes a logged refusal may carry (each a key of :data:`civicstack.errors.CODES`).
REFUSAL_CODES = frozenset(
    {
        "relying_party_suspended",
        "unregistered_relying_party",
        "overasking",
        "unknown_data_service",
        "category_not_offered",
        "consent_not_found",
        "consent_not_active",
        "outside_consent",
        "no_record",
        "provider_unavailable",
    }
)

Kind = Literal["hosted", "remote"]


def data_service_vct(provider: str, service: str) -> str:
    """The vct naming ``provider``'s data ``service`` in a relying party's registration."""
    return f"{DATA_VCT_PREFIX}{provider}:{service}"


@dataclass(frozen=True, slots=True)
class DataService:
    """A data service a provider publishes: its categories, and where its records are.

    ``hosted``: the provider writes its records into the platform, keyed by its pairwise id of
    each citizen. ``remote``: the platform asks ``url`` (HTTPS; HTTP only for loopback tests)
    for the record of a pairwise id.
    """

    provider: str
    name: str
    title: str
    categories: tuple[str, ...]
    kind: Kind
    url: str | None = None

    def __post_init__(self) -> None:
        for what, value in (("provider", self.provider), ("service", self.name)):
            if not isinstance(value, str) or not SERVICE_NAME.fullmatch(value):
                raise InputError("invalid_request", f"{what} is a lowercase slug")
        if not isinstance(self.title, str) or not 0 < len(self.title) <= 200:
            raise InputError("invalid_request", "a service title is 1 to 200 characters")
        if self.kind == "remote":
            if not isinstance(self.url, str) or not re.fullmatch(
                r"https?://[^\s]{1,500}", self.url
            ):
                raise InputError("invalid_request", "a remote service has an http(s) url")
        elif self.kind != "hosted" or self.url is not None:
            raise InputError("invalid_request", "a service is hosted (no url) or remote (a url)")

    @property
    def vct(self) -> str:
        """The vct relying parties register for to ask this service."""
        return data_service_vct(self.provider, self.name)


def check_requester(
    registry: TrustRegistry,
    requester: str,
    *,
    purpose: str,
    service: DataService | tuple[str, str],
    categories: Sequence[str],
    now: int,
) -> RelyingPartyRegistration:
    """Step 1: the registration of ``requester`` that allows asking ``service`` (a published
    service, or ``(provider, service)`` names) for ``categories`` for ``purpose``."""
    vct = service.vct if isinstance(service, DataService) else data_service_vct(*service)
    return registry.check_request(requester, purpose, {vct: list(categories)}, now)


def check_offered(service: DataService, categories: Sequence[str]) -> None:
    """Step 2: every category asked is one ``service`` offers."""
    missing = sorted(set(categories) - set(service.categories))
    if missing:
        raise InputError(
            "category_not_offered",
            f"{service.provider}/{service.name} does not offer {', '.join(missing[:5])}",
        )
