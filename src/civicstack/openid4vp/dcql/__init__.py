"""The Digital Credentials Query Language (OpenID4VP 1.0 §6) and claims path pointers (§7)."""

from civicstack.openid4vp.dcql.query import (
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

__all__ = [
    "FORMAT_SD_JWT_VC",
    "Choice",
    "DcqlClaim",
    "DcqlCredential",
    "DcqlCredentialSet",
    "DcqlQuery",
    "dotted",
    "query_for",
    "select",
]
