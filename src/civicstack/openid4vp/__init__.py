"""OpenID for Verifiable Presentations 1.0 (final): the protocol, without HTTP or storage.

* :mod:`.dcql` — the Digital Credentials Query Language (§6) and claims path pointers (§7);
* :mod:`.request` — signed Request Objects by reference (§5, RFC 9101), the
  ``verifier_attestation`` Client Identifier Prefix (§5.9.3) and Verifier Attestation JWTs
  (§12), and the wallet's checks of a request;
* :mod:`.response` — ``direct_post`` Authorization Responses (§8.1, §8.2, §8.5);
* :mod:`.limits` — the caps every message is read under (:class:`Limits`).

The verifier service (:mod:`civicstack.services.verifier`, served by :mod:`civicstack.api.verifier`)
and the wallet (:mod:`civicstack.wallet.openid4vp`) are built on these.
"""

from civicstack.openid4vp.dcql import (
    FORMAT_SD_JWT_VC,
    Choice,
    DcqlClaim,
    DcqlCredential,
    DcqlCredentialSet,
    DcqlQuery,
    dotted,
    query_for,
    select,
)
from civicstack.openid4vp.limits import DEFAULT_LIMITS, Limits
from civicstack.openid4vp.request import (
    ATTESTATION_TYP,
    PREFIX,
    REQUEST_MEDIA_TYPE,
    REQUEST_TYP,
    RequestObject,
    VerifierAttestation,
    authorization_request_uri,
    client_id_for,
    original_client_id,
    parse_authorization_request,
    read_verifier_attestation,
    sign_request_object,
    sign_verifier_attestation,
    verify_request_object,
)
from civicstack.openid4vp.response import (
    AuthorizationResponse,
    error_form,
    read_authorization_response,
    read_vp_token,
    vp_token_form,
)

__all__ = [
    "ATTESTATION_TYP",
    "DEFAULT_LIMITS",
    "FORMAT_SD_JWT_VC",
    "PREFIX",
    "REQUEST_MEDIA_TYPE",
    "REQUEST_TYP",
    "AuthorizationResponse",
    "Choice",
    "DcqlClaim",
    "DcqlCredential",
    "DcqlCredentialSet",
    "DcqlQuery",
    "Limits",
    "RequestObject",
    "VerifierAttestation",
    "authorization_request_uri",
    "client_id_for",
    "dotted",
    "error_form",
    "original_client_id",
    "parse_authorization_request",
    "query_for",
    "read_authorization_response",
    "read_verifier_attestation",
    "read_vp_token",
    "select",
    "sign_request_object",
    "sign_verifier_attestation",
    "verify_request_object",
    "vp_token_form",
]
