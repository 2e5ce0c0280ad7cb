"""An OpenID4VCI 1.0 wallet client written only from the specifications.

It uses nothing from civicstack: httpx for HTTP, pyca/cryptography for the holder key and for
checking the credential, the standard library for the rest. It follows:

* OpenID4VCI 1.0 §4.1 (offers by value and by reference), §12.2.2 (metadata at the well-known
  URL inserted between host and path), §6 (token request for the pre-authorized code grant,
  form-encoded), §7 (nonce), §8 (credential request with a ``jwt`` proof, Appendix F.1), §9
  (deferred credential request);
* RFC 8414 §3 (authorization server metadata);
* RFC 7515/7518 (ES256 JWS: the signature is R || S, 32 bytes each), RFC 7517 (EC JWK);
* RFC 9901 (SD-JWT: ``~``-separated disclosures, each digested with SHA-256 and found in an
  ``_sd`` array), the SD-JWT VC draft (``typ`` ``dc+sd-jwt``, ``cnf.jwk``, JWT VC Issuer
  Metadata with the issuer's ``jwks``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def b64u(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    """Decode base64url without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def well_known(identifier: str, suffix: str) -> str:
    """OpenID4VCI §12.2.2 / RFC 8414 §3.1: /.well-known/<suffix> goes before the path."""
    parts = urlsplit(identifier)
    return f"{parts.scheme}://{parts.netloc}/.well-known/{suffix}{parts.path.rstrip('/')}"


@dataclass
class HolderKey:
    """A P-256 key the holder keeps; the issuer sees only its public JWK."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def jwk(self) -> dict[str, str]:
        """The public key as an EC JWK (RFC 7518 §6.2.1)."""
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(numbers.x.to_bytes(32, "big")),
            "y": b64u(numbers.y.to_bytes(32, "big")),
        }

    def sign_jwt(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """A compact ES256 JWS (RFC 7515 §7.1, RFC 7518 §3.4)."""
        signing_input = (
            b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
        ).encode()
        r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return signing_input.decode() + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def key_proof(self, audience: str, nonce: str | None) -> str:
        """A key proof of the ``jwt`` proof type (OpenID4VCI Appendix F.1)."""
        claims: dict[str, Any] = {"aud": audience, "iat": int(time.time())}
        if nonce is not None:
            claims["nonce"] = nonce
        return self.sign_jwt(
            {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": self.jwk}, claims
        )


class SpecClientError(Exception):
    """The issuer said no (its error response is in ``body``)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body

    @property
    def error(self) -> str | None:
        """The OAuth ``error`` of the response."""
        return self.body.get("error") if isinstance(self.body, dict) else None


def _json(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in (expected or (200,)):
        try:
            body = response.json()
        except ValueError:
            body = response.text
        raise SpecClientError(response.status_code, body)
    return response.json()


@dataclass
class Session:
    """One run of the Pre-Authorized Code Flow."""

    offer: dict[str, Any]
    metadata: dict[str, Any]
    as_metadata: dict[str, Any]
    access_token: str | None = None


class SpecWallet:
    """The wallet side of OpenID4VCI 1.0, from the spec alone."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=30)
        self.key = HolderKey()

    def __enter__(self) -> SpecWallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    # §4.1
    def read_offer(self, uri: str) -> dict[str, Any]:
        """The Credential Offer object from an offer URI, fetching it when by reference."""
        params = parse_qs(urlsplit(uri).query, strict_parsing=True)
        if ("credential_offer" in params) == ("credential_offer_uri" in params):
            raise ValueError("exactly one of credential_offer, credential_offer_uri")
        if "credential_offer" in params:
            return dict(json.loads(params["credential_offer"][0]))
        response = self.http.get(params["credential_offer_uri"][0])
        offer = dict(_json(response))
        assert response.headers["content-type"].startswith("application/json")
        return offer

    # §12.2.2, RFC 8414 §3
    def discover(self, offer: dict[str, Any]) -> Session:
        """Fetch the issuer's and its authorization server's metadata, checking identifiers."""
        issuer = offer["credential_issuer"]
        metadata = _json(self.http.get(well_known(issuer, "openid-credential-issuer")))
        assert metadata["credential_issuer"] == issuer  # §12.2.4: MUST be identical
        server = (metadata.get("authorization_servers") or [issuer])[0]
        as_metadata = _json(self.http.get(well_known(server, "oauth-authorization-server")))
        assert as_metadata["issuer"] == server  # RFC 8414 §3.3
        assert PRE_AUTH in as_metadata.get("grant_types_supported", [PRE_AUTH])
        return Session(offer, metadata, as_metadata)

    # §6.1
    def token(self, session: Session, tx_code: str | None) -> str:
        """Exchange the pre-authorized code (and tx_code) for an access token."""
        grant = session.offer["grants"][PRE_AUTH]
        form = {"grant_type": PRE_AUTH, "pre-authorized_code": grant["pre-authorized_code"]}
        if "tx_code" in grant:
            assert tx_code is not None, "the offer asks for a transaction code"
            form["tx_code"] = tx_code
        response = self.http.post(session.as_metadata["token_endpoint"], data=form)
        body = _json(response)
        assert response.headers.get("cache-control") == "no-store"
        assert body["token_type"].lower() == "bearer"
        session.access_token = body["access_token"]
        return str(body["access_token"])

    # §7.1
    def nonce(self, session: Session) -> str | None:
        """A c_nonce, if the issuer has a nonce endpoint."""
        endpoint = session.metadata.get("nonce_endpoint")
        if endpoint is None:
            return None
        return str(_json(self.http.post(endpoint))["c_nonce"])

    # §8.2
    def request_credential(self, session: Session, *, keys: list[HolderKey] | None = None) -> Any:
        """POST the Credential Request with one jwt proof per key; the raw response."""
        configuration_id = session.offer["credential_configuration_ids"][0]
        assert configuration_id in session.metadata["credential_configurations_supported"]
        nonce = self.nonce(session)
        audience = session.metadata["credential_issuer"]
        proofs = [k.key_proof(audience, nonce) for k in (keys or [self.key])]
        return self.http.post(
            session.metadata["credential_endpoint"],
            json={"credential_configuration_id": configuration_id, "proofs": {"jwt": proofs}},
            headers={"Authorization": f"Bearer {session.access_token}"},
        )

    # §9.1
    def deferred(self, session: Session, transaction_id: str) -> Any:
        """POST a Deferred Credential Request; the raw response."""
        return self.http.post(
            session.metadata["deferred_credential_endpoint"],
            json={"transaction_id": transaction_id},
            headers={"Authorization": f"Bearer {session.access_token}"},
        )

    def receive(self, uri: str, tx_code: str | None) -> list[str]:
        """The whole flow for an offer issued at once; the credentials."""
        session = self.discover(self.read_offer(uri))
        self.token(session, tx_code)
        body = _json(self.request_credential(session))
        return [item["credential"] for item in body["credentials"]]

    # SD-JWT VC and RFC 9901, checked independently of the issuer's code
    def check_credential(
        self, credential: str, issuer: str, key: HolderKey | None = None
    ) -> dict[str, Any]:
        """Verify an SD-JWT VC: issuer signature with a key from its JWT VC Issuer Metadata,
        every disclosure digested into an _sd array, cnf.jwk = the holder's key. Returns the
        processed claims."""
        assert credential.endswith("~")
        jwt, *disclosures = credential[:-1].split("~")
        header_b64, payload_b64, signature_b64 = jwt.split(".")
        header = json.loads(unb64u(header_b64))
        payload = json.loads(unb64u(payload_b64))
        assert header["typ"] == "dc+sd-jwt"
        assert header["alg"] == "ES256"
        assert payload["iss"] == issuer
        jwks = _json(self.http.get(well_known(issuer, "jwt-vc-issuer")))
        assert jwks["issuer"] == issuer
        (jwk,) = [k for k in jwks["jwks"]["keys"] if k.get("kid") == header.get("kid")]
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64u(jwk["x"]), "big"),
            int.from_bytes(unb64u(jwk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        raw = unb64u(signature_b64)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise AssertionError("the issuer's signature does not verify") from exc
        assert payload["_sd_alg"] == "sha-256"
        digests = _all_digests(payload)
        top_level = set(payload.get("_sd", []))
        claims = {k: v for k, v in payload.items() if k not in ("_sd", "_sd_alg")}
        for disclosure in disclosures:
            digest = b64u(hashlib.sha256(disclosure.encode()).digest())
            assert digest in digests, "a disclosure no digest references"
            decoded = json.loads(unb64u(disclosure))
            # [salt, name, value] for object properties; array elements have two members
            if len(decoded) == 3 and digest in top_level:
                claims[decoded[1]] = decoded[2]
        assert payload["cnf"]["jwk"] == (key or self.key).jwk
        assert payload["status"]["status_list"]["uri"].startswith(issuer + "/status/")
        return claims


def _all_digests(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        found.update(node.get("_sd", []))
        for value in node.values():
            found |= _all_digests(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and set(item) == {"..."}:
                found.add(item["..."])
            else:
                found |= _all_digests(item)
    return found
