"""The trust chain: accredited authorities and registered relying parties, resolved to a root.

A root authority (the sovereign government), configured as a trust anchor, accredits identity
authorities with signed ``accreditation+jwt`` statements naming their keys, the credential types
and claims they may attest, and whether they may accredit sub-authorities or register relying
parties. Sub-accreditations stay within their accreditor's scope. Relying parties are registered
(``rp-registration+jwt``) for purposes, each with the claims it may request; they can be suspended
(``rp-suspension+jwt``); accreditations can be revoked (``accreditation-revocation+jwt``).

* :mod:`.statements` — the statements, their wire format and strict parsing;
* :mod:`.signing` — making statements (refusing to sign anything out of the signer's scope);
* :mod:`.registry` — :class:`TrustRegistry`: verifies statements as they are added, resolves
  chains (it is the :class:`civicstack.types.IssuerTrust` of credential verification), and checks
  relying parties' requests; it draws on
* :mod:`.chains` — resolving an authority's accreditations up to a root, step by step;
* :mod:`.relying_parties` — suspensions, valid registrations and requests within a purpose;
* :mod:`.keys` — picking the key a statement, credential or request was signed with;
* :mod:`.limits` — :class:`Limits`, the caps all of the above read under.

Standards: RFC 7519 (JWT), RFC 7515 (JWS), RFC 8725 §3.11 (explicit typing), RFC 7638 (``kid``
thumbprints), OpenID Federation 1.0 §3 and §10.2 (subordinate statements, validating a trust
chain), ETSI TS 119 475 / EU ARF (relying-party registration with intended uses; over-asking).
"""

from civicstack.trust.fields import (
    ALWAYS_VISIBLE_CLAIMS,
    STRUCTURAL_CLAIMS,
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    KeySet,
    claim_covered,
)
from civicstack.trust.limits import DEFAULT_LIMITS, Limits
from civicstack.trust.registry import DEFAULT_MAX_CHAIN, TrustRegistry
from civicstack.trust.signing import (
    Authority,
    sign_accreditation,
    sign_registration,
    sign_revocation,
    sign_suspension,
)
from civicstack.trust.statements import (
    Accreditation,
    AccreditationRevocation,
    Purpose,
    RelyingPartyRegistration,
    RootAuthority,
    Statement,
    Suspension,
)

__all__ = [
    "ALWAYS_VISIBLE_CLAIMS",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_CHAIN",
    "STRUCTURAL_CLAIMS",
    "TYP_ACCREDITATION",
    "TYP_REGISTRATION",
    "TYP_REVOCATION",
    "TYP_SUSPENSION",
    "Accreditation",
    "AccreditationRevocation",
    "Authority",
    "KeySet",
    "Limits",
    "Purpose",
    "RelyingPartyRegistration",
    "RootAuthority",
    "Statement",
    "Suspension",
    "TrustRegistry",
    "claim_covered",
    "sign_accreditation",
    "sign_registration",
    "sign_revocation",
    "sign_suspension",
]
