"""Issuer metadata: what a Credential Issuer publishes, and how a Wallet reads it.

* Credential Issuer Metadata, OpenID4VCI 1.0 §12.2 (retrieval §12.2.2, parameters §12.2.4), with
  one Credential Configuration per accredited ``vct`` in the ``dc+sd-jwt`` format profile
  (Appendix A.3: ``vct``; ``credential_metadata.display`` and ``claims`` paths, Appendix B.2);
* OAuth 2.0 Authorization Server Metadata, RFC 8414 §2-3, with the OpenID4VCI §12.3 parameter
  ``pre-authorized_grant_anonymous_access_supported``: every Credential Issuer here is its own
  Authorization Server, so ``authorization_servers`` is omitted (§12.2.4);
* JWT VC Issuer Metadata (draft-ietf-oauth-sd-jwt-vc, "JWT VC Issuer Metadata"): ``issuer`` and
  the signing keys as ``jwks``. civicstack adds one member, ``civicstack_trust``: the trust
  anchors and the signed accreditation statements a Wallet needs to check the issuer's chain
  (they are signed by the root, so serving them here adds no trust in this server).

The parsers are for Wallets: the metadata is fetched from a server named in an untrusted offer,
so it is read strictly, ``credential_issuer`` must equal the identifier it was fetched for
(§12.2.4: "MUST NOT be used" otherwise), and every endpoint must be a URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from civicstack.errors import InputError
from civicstack.openid4vci.offers import HTTPS_ONLY, PRE_AUTHORIZED_GRANT, HttpPolicy, check_url
from civicstack.openid4vci.proofs import PROOF_TYPE
from civicstack.trust import RootAuthority

FORMAT = "dc+sd-jwt"
BINDING_METHOD = "jwk"
PROOF_ALGORITHMS = ("ES256", "EdDSA")
DEFAULT_BATCH_SIZE = 10
LOCALE = "en-GB"


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    """One entry of ``credential_configurations_supported``: an SD-JWT VC type we can issue."""

    id: str
    vct: str
    name: str
    claims: tuple[str, ...]
    signing_algs: tuple[str, ...]
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The Credential Configuration object (§12.2.4, Appendix A.3.2)."""
        display: dict[str, Any] = {"name": self.name, "locale": LOCALE}
        if self.description:
            display["description"] = self.description
        return {
            "format": FORMAT,
            "vct": self.vct,
            "credential_signing_alg_values_supported": list(self.signing_algs),
            "cryptographic_binding_methods_supported": [BINDING_METHOD],
            "proof_types_supported": {
                PROOF_TYPE: {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}
            },
            "credential_metadata": {
                "display": [display],
                "claims": [{"path": claim.split(".")} for claim in self.claims],
            },
        }


def credential_issuer_metadata(
    identifier: str,
    *,
    endpoints: str,
    display_name: str,
    configurations: Iterable[CredentialConfiguration],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    """Credential Issuer Metadata for ``identifier`` whose endpoints live under ``endpoints``."""
    return {
        "credential_issuer": identifier,
        "credential_endpoint": f"{endpoints}/credential",
        "nonce_endpoint": f"{endpoints}/nonce",
        "deferred_credential_endpoint": f"{endpoints}/deferred_credential",
        "notification_endpoint": f"{endpoints}/notification",
        "batch_credential_issuance": {"batch_size": batch_size},
        "display": [{"name": display_name, "locale": LOCALE}],
        "credential_configurations_supported": {c.id: c.to_json() for c in configurations},
    }


def authorization_server_metadata(identifier: str, *, endpoints: str) -> dict[str, Any]:
    """RFC 8414 metadata of the issuer acting as its own Authorization Server.

    ``response_types_supported`` is omitted: an Authorization Server that only supports the
    Pre-Authorized Code grant may omit it (OpenID4VCI §12.2.4).
    """
    return {
        "issuer": identifier,
        "token_endpoint": f"{endpoints}/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
        "authorization_details_types_supported": ["openid_credential"],
    }


def jwt_vc_issuer_metadata(
    identifier: str, keys: Sequence[Mapping[str, Any]], *, trust: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """JWT VC Issuer Metadata: ``issuer`` and its signing keys as a JWK Set."""
    out: dict[str, Any] = {"issuer": identifier, "jwks": {"keys": [dict(k) for k in keys]}}
    if trust is not None:
        out["civicstack_trust"] = dict(trust)
    return out


# --- the Wallet's reading ----------------------------------------------------------------------


def _bad(detail: str) -> InputError:
    return InputError("invalid_offer", detail)


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    """The parts of Credential Issuer Metadata a Wallet acts on, checked."""

    credential_issuer: str
    credential_endpoint: str
    nonce_endpoint: str | None
    deferred_credential_endpoint: str | None
    notification_endpoint: str | None
    authorization_servers: tuple[str, ...]
    batch_size: int
    configurations: Mapping[str, Mapping[str, Any]]
    display_name: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(
        cls, value: object, *, identifier: str, http: HttpPolicy = HTTPS_ONLY
    ) -> IssuerMetadata:
        """Read metadata fetched for ``identifier`` (§12.2.4); ``http`` judges, by the
        identifier, whether its endpoints may be plain http."""
        if not isinstance(value, dict):
            raise _bad("issuer metadata is a JSON object")
        if value.get("credential_issuer") != identifier:
            raise _bad("credential_issuer differs from the identifier the metadata is for")

        def endpoint(name: str, *, required: bool = False) -> str | None:
            url = value.get(name)
            if url is None and not required:
                return None
            return check_url(url, name, http=http, origin=identifier)

        servers = value.get("authorization_servers", [])
        if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
            raise _bad("authorization_servers is an array of identifiers")
        batch = value.get("batch_credential_issuance")
        size = 1
        if batch is not None:
            given = batch.get("batch_size") if isinstance(batch, dict) else None
            if isinstance(given, bool) or not isinstance(given, int) or given < 2:
                raise _bad("batch_credential_issuance.batch_size is an integer >= 2")
            size = given
        configurations = value.get("credential_configurations_supported")
        if not isinstance(configurations, dict) or not all(
            isinstance(c, dict) for c in configurations.values()
        ):
            raise _bad("credential_configurations_supported is an object of objects")
        name: str | None = None
        display = value.get("display")
        if isinstance(display, list) and display and isinstance(display[0], dict):
            shown = display[0].get("name")
            name = shown if isinstance(shown, str) else None
        credential = endpoint("credential_endpoint", required=True)
        assert credential is not None
        return cls(
            credential_issuer=identifier,
            credential_endpoint=credential,
            nonce_endpoint=endpoint("nonce_endpoint"),
            deferred_credential_endpoint=endpoint("deferred_credential_endpoint"),
            notification_endpoint=endpoint("notification_endpoint"),
            authorization_servers=tuple(servers),
            batch_size=size,
            configurations=configurations,
            display_name=name,
            raw=value,
        )

    def configuration(self, configuration_id: str) -> Mapping[str, Any]:
        """The offered configuration, which must exist and be an SD-JWT VC bound to a JWK."""
        config = self.configurations.get(configuration_id)
        if config is None:
            raise _bad(f"the issuer does not describe configuration {configuration_id!r}")
        if config.get("format") != FORMAT:
            raise InputError("unsupported", f"format {config.get('format')!r} is not supported")
        methods = config.get("cryptographic_binding_methods_supported")
        if methods is not None and (not isinstance(methods, list) or BINDING_METHOD not in methods):
            raise InputError("unsupported", "the credential cannot be bound to a JWK")
        return config

    def proof_algorithms(self, configuration_id: str) -> tuple[str, ...] | None:
        """The ``jwt`` proof algorithms the configuration accepts (None: no proof wanted)."""
        types = self.configuration(configuration_id).get("proof_types_supported")
        if types is None:
            return None
        jwt = types.get(PROOF_TYPE) if isinstance(types, dict) else None
        algs = jwt.get("proof_signing_alg_values_supported") if isinstance(jwt, dict) else None
        if not isinstance(algs, list) or not all(isinstance(a, str) for a in algs):
            raise InputError("unsupported", "the issuer accepts no jwt key proofs")
        return tuple(algs)


@dataclass(frozen=True, slots=True)
class AuthorizationServerMetadata:
    """The parts of RFC 8414 metadata the Pre-Authorized Code flow needs."""

    issuer: str
    token_endpoint: str

    @classmethod
    def from_json(
        cls, value: object, *, issuer: str, http: HttpPolicy = HTTPS_ONLY
    ) -> AuthorizationServerMetadata:
        """Read metadata fetched for ``issuer`` (RFC 8414 §3.3: ``issuer`` must match)."""
        if not isinstance(value, dict):
            raise _bad("authorization server metadata is a JSON object")
        if value.get("issuer") != issuer:
            raise _bad("the authorization server's issuer differs from the one asked for")
        grants = value.get("grant_types_supported")
        if grants is not None and (
            not isinstance(grants, list) or PRE_AUTHORIZED_GRANT not in grants
        ):
            raise InputError("unsupported", "the authorization server has no pre-authorized grant")
        token = check_url(value.get("token_endpoint"), "token_endpoint", http=http, origin=issuer)
        return cls(issuer, token)


@dataclass(frozen=True, slots=True)
class IssuerTrustBundle:
    """What JWT VC Issuer Metadata says about trust: the issuer's keys, and (civicstack's
    ``civicstack_trust``) the roots and signed statements to check them against."""

    issuer: str
    keys: tuple[Mapping[str, Any], ...]
    roots: tuple[RootAuthority, ...]
    statements: tuple[str, ...]

    @classmethod
    def from_json(cls, value: object, *, issuer: str) -> IssuerTrustBundle:
        """Read JWT VC Issuer Metadata fetched for ``issuer`` (``issuer`` must match)."""
        if not isinstance(value, dict):
            raise _bad("JWT VC issuer metadata is a JSON object")
        if value.get("issuer") != issuer:
            raise _bad("the JWT VC issuer metadata is for another issuer")
        jwks = value.get("jwks")
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise _bad("jwks is a JWK Set")
        trust = value.get("civicstack_trust", {})
        if not isinstance(trust, dict):
            raise _bad("civicstack_trust is an object")
        roots, statements = trust.get("roots", []), trust.get("statements", [])
        if not isinstance(roots, list) or not isinstance(statements, list):
            raise _bad("civicstack_trust lists roots and statements")
        if not all(isinstance(s, str) for s in statements):
            raise _bad("trust statements are compact JWTs")
        return cls(
            issuer,
            tuple(keys),
            tuple(RootAuthority.from_json(r) for r in roots),
            tuple(statements),
        )
