"""A wallet written from the specifications alone, to prove an independent wallet can present.

It imports nothing from civicstack: only httpx (HTTP) and pyca/cryptography (keys and
signatures), plus the standard library. What it knows comes from the specs:

* OpenID4VP 1.0: the Authorization Request URI (§9: ``client_id``, ``request_uri``), the Request
  Object by reference (§5, RFC 9101, ``typ`` ``oauth-authz-req+jwt``), the
  ``verifier_attestation`` Client Identifier Prefix and the Verifier Attestation JWT in the
  ``jwt`` header (§5.9.3, §12), DCQL (§6), ``direct_post`` (§8.2) and the ``vp_token`` (§8.1);
* RFC 9901 (SD-JWT): Disclosures, the Key Binding JWT (``typ`` ``kb+jwt``, ``sd_hash``);
* RFC 7515/7518/8037: JWS with ES256 (``r || s`` signatures) and EdDSA (Ed25519).

The only thing it is given out of band is the trust anchor: the public JWK of the party it
trusts to attest verifiers (the platform's root authority).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)


class SpecWalletError(Exception):
    """The request failed one of the wallet's checks."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode base64url without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(unb64url(text), "big")


def public_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """A public key from a JWK (RFC 7517/7518/8037)."""
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1())
        return numbers.public_key()
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
    raise SpecWalletError(f"unsupported key {jwk.get('kty')}/{jwk.get('crv')}")


def verify_jws(token: str, jwk: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS with ``jwk``; return its header and payload."""
    h, p, s = token.split(".")
    header = json.loads(unb64url(h))
    signature, signing_input = unb64url(s), f"{h}.{p}".encode()
    key = public_key(jwk)
    try:
        if header["alg"] == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise SpecWalletError("an ES256 signature is 64 bytes")
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        elif header["alg"] == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        else:
            raise SpecWalletError(f"alg {header['alg']} does not fit the key")
    except InvalidSignature as exc:
        raise SpecWalletError("bad signature") from exc
    return header, json.loads(unb64url(p))


class HolderKey:
    """The holder's P-256 key (ES256)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK."""
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }

    def sign_jwt(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        """A compact JWS, ES256."""
        h = b64url(json.dumps({"alg": "ES256", **header}).encode())
        p = b64url(json.dumps(payload).encode())
        der = self._key.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{h}.{p}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@dataclass
class Request:
    """A verified OpenID4VP request."""

    client_id: str
    response_uri: str
    nonce: str
    state: str | None
    dcql_query: dict[str, Any]
    claims: dict[str, Any]


class SpecWallet:
    """Holds SD-JWT VCs; answers OpenID4VP requests from verifiers its trust anchor attests."""

    def __init__(self, http: httpx.Client, trust_anchor: dict[str, Any]) -> None:
        self.http = http
        self.trust_anchor = trust_anchor  # {"id": issuer identifier, "jwks": {"keys": [...]}}
        self.key = HolderKey()
        self.credentials: list[str] = []

    def receive_request(self, uri: str, *, now: int | None = None) -> Request:
        """Fetch and check the Request Object named by an ``openid4vp://`` URI."""
        now = int(time.time()) if now is None else now
        # §9 / RFC 9101 §5.2: the request carries client_id and request_uri only.
        params = {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}
        client_id, request_uri = params["client_id"], params["request_uri"]
        response = self.http.get(request_uri, headers={"Accept": "application/oauth-authz-req+jwt"})
        if response.status_code != 200:
            raise SpecWalletError(f"request_uri answered {response.status_code}")
        if not response.headers["content-type"].startswith("application/oauth-authz-req+jwt"):
            raise SpecWalletError("the request object has the wrong media type")
        token = response.text.strip()
        header = json.loads(unb64url(token.split(".")[0]))
        # §5: typ oauth-authz-req+jwt.
        if header.get("typ") != "oauth-authz-req+jwt":
            raise SpecWalletError("request object typ")
        # §5.9.3: verifier_attestation:<sub>; the attestation in the jwt header.
        prefix, _, original = client_id.partition(":")
        if prefix != "verifier_attestation":
            raise SpecWalletError("unsupported client identifier prefix")
        attestation = header["jwt"]
        a_header, a_claims = self._verify_attestation(attestation)
        if a_header.get("typ") != "verifier-attestation+jwt":
            raise SpecWalletError("attestation typ")
        if a_claims["sub"] != original or a_claims["exp"] <= now:
            raise SpecWalletError("attestation sub or exp")
        # The request is signed with the attested cnf key.
        _, claims = verify_jws(token, a_claims["cnf"]["jwk"])
        if claims["client_id"] != client_id:
            raise SpecWalletError("client_id mismatch")
        if claims["response_type"] != "vp_token" or claims["response_mode"] != "direct_post":
            raise SpecWalletError("response_type/response_mode")
        if "redirect_uris" in a_claims and claims["response_uri"] not in a_claims["redirect_uris"]:
            raise SpecWalletError("response_uri not attested")
        return Request(
            client_id=client_id,
            response_uri=claims["response_uri"],
            nonce=claims["nonce"],
            state=claims.get("state"),
            dcql_query=claims["dcql_query"],
            claims=claims,
        )

    def _verify_attestation(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        header = json.loads(unb64url(token.split(".", maxsplit=1)[0]))
        payload = json.loads(unb64url(token.split(".")[1]))
        if payload["iss"] != self.trust_anchor["id"]:
            raise SpecWalletError("the attestation comes from a party this wallet does not trust")
        keys = self.trust_anchor["jwks"]["keys"]
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), keys[0])
        return verify_jws(token, jwk)

    def present(
        self, request: Request, *, now: int | None = None, disclose: list[str] | None = None
    ) -> dict[str, str]:
        """The direct_post form answering ``request`` (DCQL top-level claims)."""
        now = int(time.time()) if now is None else now
        vp_token: dict[str, list[str]] = {}
        for query in request.dcql_query["credentials"]:
            names = (
                [c["path"][0] for c in query.get("claims", [])] if disclose is None else disclose
            )
            vct_values = query["meta"]["vct_values"]
            credential = next(c for c in self.credentials if _vct(c) in vct_values)
            vp_token[query["id"]] = [self._presentation(credential, names, request, now)]
        form = {"vp_token": json.dumps(vp_token)}
        if request.state is not None:
            form["state"] = request.state
        return form

    def _presentation(self, credential: str, names: list[str], request: Request, now: int) -> str:
        issuer_jwt, *disclosures = credential.split("~")[:-1]
        # RFC 9901 §7.2: keep the Disclosures of the requested top-level claims, and every
        # Disclosure nested in their values (object members and array elements).
        by_digest = {b64url(hashlib.sha256(d.encode()).digest()): d for d in disclosures}
        chosen: list[str] = []

        def include(value: Any) -> None:
            if isinstance(value, dict):
                for digest in value.get("_sd", []):
                    if digest in by_digest:
                        chosen.append(by_digest[digest])
                        include(json.loads(unb64url(by_digest[digest]))[-1])
                if "..." in value and value["..."] in by_digest:
                    chosen.append(by_digest[value["..."]])
                    include(json.loads(unb64url(by_digest[value["..."]]))[-1])
                for member in value.values():
                    if isinstance(member, dict | list):
                        include(member)
            elif isinstance(value, list):
                for item in value:
                    include(item)

        for d in disclosures:
            decoded = json.loads(unb64url(d))
            if len(decoded) == 3 and decoded[1] in names:
                chosen.append(d)
                include(decoded[2])
        sd_jwt = issuer_jwt + "~" + "".join(d + "~" for d in dict.fromkeys(chosen))
        # §4.3: the KB-JWT, bound to the client_id and nonce (OpenID4VP Appendix B.3).
        kb = self.key.sign_jwt(
            {"typ": "kb+jwt"},
            {
                "iat": now,
                "aud": request.client_id,
                "nonce": request.nonce,
                "sd_hash": b64url(hashlib.sha256(sd_jwt.encode()).digest()),
            },
        )
        return sd_jwt + kb

    def post(self, request: Request, form: dict[str, str]) -> httpx.Response:
        """direct_post the form to the response_uri (§8.2)."""
        return self.http.post(request.response_uri, data=form)


def _vct(credential: str) -> str:
    payload = json.loads(unb64url(credential.split("~", maxsplit=1)[0].split(".")[1]))
    return str(payload["vct"])
