"""OpenID for Verifiable Credential Issuance 1.0: the protocol's pure parts.

* :mod:`.offers` — Credential Offers (§4.1), the Pre-Authorized Code grant's secrets, URLs,
  and :class:`Limits`, the caps every message here is read under;
* :mod:`.proofs` — ``jwt`` key proofs (Appendix F.1, F.4);
* :mod:`.metadata` — Credential Issuer (§12.2), Authorization Server (RFC 8414) and JWT VC
  Issuer metadata, to publish and to read;
* :mod:`.applications` — a citizen's application with proof documents, and automatic checks;
* the Wallet's side of the protocol is :mod:`civicstack.wallet.openid4vci`.

The issuer's state (offers, tokens, nonces, deferred transactions) lives in
:mod:`civicstack.stores.issuance`; :mod:`civicstack.services.issuer` composes both into the
Credential Issuer that :mod:`civicstack.api.issuers` serves.
"""

from civicstack.openid4vci.applications import (
    AllChecks,
    Application,
    ApplicationCheck,
    DocumentRef,
    Finding,
    NoRegisterChecks,
    UprnInAddressRegister,
    sniff_document,
)
from civicstack.openid4vci.metadata import (
    AuthorizationServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
)
from civicstack.openid4vci.offers import (
    DEFAULT_LIMITS,
    PRE_AUTHORIZED_GRANT,
    CredentialOffer,
    Limits,
    OfferReference,
    TxCode,
    parse_offer_uri,
    reference_uri,
    well_known,
)
from civicstack.openid4vci.proofs import PROOF_TYP, KeyProof, create_key_proof, verify_key_proof

__all__ = [
    "DEFAULT_LIMITS",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "AllChecks",
    "Application",
    "ApplicationCheck",
    "AuthorizationServerMetadata",
    "CredentialConfiguration",
    "CredentialOffer",
    "DocumentRef",
    "Finding",
    "IssuerMetadata",
    "KeyProof",
    "Limits",
    "NoRegisterChecks",
    "OfferReference",
    "TxCode",
    "UprnInAddressRegister",
    "authorization_server_metadata",
    "create_key_proof",
    "credential_issuer_metadata",
    "jwt_vc_issuer_metadata",
    "parse_offer_uri",
    "reference_uri",
    "sniff_document",
    "verify_key_proof",
    "well_known",
]
