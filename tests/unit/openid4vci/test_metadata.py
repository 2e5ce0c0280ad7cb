"""Issuer metadata: what the issuer publishes, and the wallet's strict reading of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError
from civicstack.openid4vci.metadata import (
    AuthorizationServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
    IssuerTrustBundle,
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
)
from civicstack.openid4vci.offers import PRE_AUTHORIZED_GRANT
from civicstack.trust import RootAuthority

ID = "https://gov.example/issuers/home-office"
ENDPOINTS = ID
CONFIG = CredentialConfiguration(
    id="urn:civicstack:right-to-work:1",
    vct="urn:civicstack:right-to-work:1",
    name="Right to work",
    claims=("family_name", "given_name", "right_to_work"),
    signing_algs=("ES256",),
)


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as caught:
        fn()
    return caught.value.code


def _metadata() -> dict[str, Any]:
    return credential_issuer_metadata(
        ID, endpoints=ENDPOINTS, display_name="Home Office", configurations=[CONFIG]
    )


def test_issuer_metadata_has_the_spec_parameters() -> None:
    """§12.2.4 and Appendix A.3: endpoints, batch size, display, and a dc+sd-jwt configuration
    with vct, JWK binding, jwt proofs and claim paths."""
    md = _metadata()
    assert md["credential_issuer"] == ID
    assert md["credential_endpoint"] == f"{ID}/credential"
    assert md["nonce_endpoint"] == f"{ID}/nonce"
    assert md["deferred_credential_endpoint"] == f"{ID}/deferred_credential"
    assert md["batch_credential_issuance"]["batch_size"] >= 2
    config = md["credential_configurations_supported"][CONFIG.id]
    assert config["format"] == "dc+sd-jwt"
    assert config["vct"] == CONFIG.vct
    assert config["cryptographic_binding_methods_supported"] == ["jwk"]
    assert config["credential_signing_alg_values_supported"] == ["ES256"]
    assert config["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["ES256", "EdDSA"]}
    }
    assert config["credential_metadata"]["display"][0]["name"] == "Right to work"
    assert {"path": ["given_name"]} in config["credential_metadata"]["claims"]


def test_authorization_server_metadata_offers_the_pre_authorized_grant() -> None:
    """RFC 8414: issuer, token endpoint, the pre-authorized grant, anonymous access."""
    md = authorization_server_metadata(ID, endpoints=ENDPOINTS)
    assert md["issuer"] == ID
    assert md["token_endpoint"] == f"{ID}/token"
    assert PRE_AUTHORIZED_GRANT in md["grant_types_supported"]
    assert md["pre-authorized_grant_anonymous_access_supported"] is True
    parsed = AuthorizationServerMetadata.from_json(md, issuer=ID)
    assert parsed.token_endpoint == f"{ID}/token"


def test_wallet_reads_metadata_for_the_identifier_it_asked() -> None:
    """The wallet accepts metadata only for the identifier it fetched it for."""
    md = _metadata()
    parsed = IssuerMetadata.from_json(md, identifier=ID)
    assert parsed.credential_endpoint == f"{ID}/credential"
    assert parsed.proof_algorithms(CONFIG.id) == ("ES256", "EdDSA")
    assert parsed.display_name == "Home Office"
    assert _code(lambda: IssuerMetadata.from_json(md, identifier=ID + "x")) == ("invalid_offer")


@pytest.mark.parametrize(
    "change",
    [
        {"credential_endpoint": "http://gov.example/credential"},
        {"credential_endpoint": "not a url"},
        {"nonce_endpoint": 7},
        {"batch_credential_issuance": {"batch_size": 1}},
        {"credential_configurations_supported": []},
        {"authorization_servers": "https://as.example"},
    ],
)
def test_wallet_refuses_bad_metadata(change: dict[str, Any]) -> None:
    """Plain http endpoints (off loopback), non-URLs and malformed members are refused."""
    md = {**_metadata(), **change}
    assert _code(lambda: IssuerMetadata.from_json(md, identifier=ID)) == ("invalid_offer")


def test_unsupported_configurations_are_named() -> None:
    """An unknown configuration is invalid_offer; a non-SD-JWT format is unsupported."""
    md = _metadata()
    md["credential_configurations_supported"]["mdl"] = {"format": "mso_mdoc"}
    parsed = IssuerMetadata.from_json(md, identifier=ID)
    assert _code(lambda: parsed.configuration("nope")) == "invalid_offer"
    assert _code(lambda: parsed.configuration("mdl")) == "unsupported"


def test_authorization_server_must_match_and_offer_the_grant() -> None:
    """An AS naming another issuer, or lacking the pre-authorized grant, is refused."""
    md = authorization_server_metadata(ID, endpoints=ENDPOINTS)
    assert _code(lambda: AuthorizationServerMetadata.from_json(md, issuer="https://x")) == (
        "invalid_offer"
    )
    md["grant_types_supported"] = ["authorization_code"]
    assert _code(lambda: AuthorizationServerMetadata.from_json(md, issuer=ID)) == ("unsupported")


def test_jwt_vc_issuer_metadata_carries_keys_and_trust() -> None:
    """The JWT VC issuer metadata lists the signing keys and the roots and statements."""
    key = PrivateKey.generate("EdDSA").public_key
    root = RootAuthority.create("https://gov.example/trust/root", "HM Government", [key])
    md = jwt_vc_issuer_metadata(
        ID, [key.to_jwk()], trust={"roots": [root.to_json()], "statements": ["a.b.c"]}
    )
    bundle = IssuerTrustBundle.from_json(md, issuer=ID)
    assert bundle.keys == (key.to_jwk(),)
    assert bundle.roots == (root,)
    assert bundle.statements == ("a.b.c",)
    assert _code(lambda: IssuerTrustBundle.from_json(md, issuer="https://other")) == (
        "invalid_offer"
    )
    assert _code(
        lambda: IssuerTrustBundle.from_json(
            {**md, "civicstack_trust": {"statements": [1]}}, issuer=ID
        )
    ) == ("invalid_offer")
