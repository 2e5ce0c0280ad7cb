"""Signing keys: Ed25519 (EdDSA, RFC 8037), P-256 (ES256, RFC 7518 §3.4) and RSA (RS256,
RFC 7518 §3.3, for OpenID Connect only), as JWKs (RFC 7517).

RS256 is not on the default allowlist (:data:`ALGORITHMS`): an RSA JWK is imported only when
the caller asks for it (``PublicKey.from_jwk(jwk, rsa=True)``) and a JWS signed with it verifies
only when ``RS256`` is passed in ``algorithms`` -- OpenID Connect Discovery 1.0 §3 requires an
OP to support it for ID tokens, and its clients may sign ``private_key_jwt`` assertions with it.
Moduli from 2048 to 8192 bits, public exponent 65537 only.

Public keys import from and export to JWK dicts; RFC 7638 thumbprints identify them. Private keys
import from JWK (issuers hand their keys to the recipes) but have no export: the only way a
private key leaves memory is sealed under a passphrase (:mod:`civicstack._crypto.sealing`).

Ed25519 goes through libsodium (PyNaCl): its verify is about twice pyca's on this hardware.
P-256 goes through pyca/cryptography (OpenSSL).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from civicstack._crypto.encoding import b64url_decode, b64url_encode, json_canonical
from civicstack.errors import InputError, VerificationError

Alg = Literal["ES256", "EdDSA", "RS256"]
#: The default allowlist: every verify accepts these unless told otherwise.
ALGORITHMS: tuple[Alg, ...] = ("ES256", "EdDSA")
#: Every algorithm this package implements; RS256 only where a caller allows it.
SUPPORTED_ALGORITHMS: tuple[Alg, ...] = ("ES256", "EdDSA", "RS256")
_RSA_E = 65537
_RSA_MIN_BITS, _RSA_MAX_BITS = 2048, 8192
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_P256 = ec.SECP256R1()
_MAX_JWK_MEMBERS = 32


def _member(jwk: dict[str, Any], name: str, size: int) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InputError("invalid_key", f"JWK member {name!r} missing or not a string")
    try:
        raw = b64url_decode(value)
    except InputError as exc:
        raise InputError("invalid_key", f"JWK member {name!r} is not base64url") from exc
    if len(raw) != size:
        raise InputError("invalid_key", f"JWK member {name!r} must be {size} bytes")
    return raw


def _check_shape(jwk: object) -> dict[str, Any]:
    if not isinstance(jwk, dict) or len(jwk) > _MAX_JWK_MEMBERS:
        raise InputError("invalid_key", "a JWK must be a JSON object")
    return jwk


def _rsa_int(jwk: dict[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or len(value) > 1400:
        raise InputError("invalid_key", f"JWK member {name!r} missing or not a string")
    try:
        raw = b64url_decode(value)
    except InputError as exc:
        raise InputError("invalid_key", f"JWK member {name!r} is not base64url") from exc
    if not raw or raw[0] == 0:
        raise InputError("invalid_key", f"JWK member {name!r} has leading zero octets")
    return int.from_bytes(raw, "big")


def _rsa_public_jwk(nums: rsa.RSAPublicNumbers) -> dict[str, str]:
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "n": b64url_encode(n), "e": b64url_encode(e)}


class PublicKey:
    """A verification key. Compare by thumbprint; never holds private material."""

    __slots__ = ("_ec", "_ed", "_jwk", "_rsa", "_thumbprint", "alg")

    def __init__(
        self,
        alg: Alg,
        jwk: dict[str, str],
        *,
        ec_key: ec.EllipticCurvePublicKey | None = None,
        ed_key: nacl.signing.VerifyKey | None = None,
        rsa_key: rsa.RSAPublicKey | None = None,
    ) -> None:
        self.alg: Alg = alg
        self._jwk = jwk
        self._ec = ec_key
        self._ed = ed_key
        self._rsa = rsa_key
        self._thumbprint: str | None = None

    @classmethod
    def from_jwk(cls, jwk: object, *, rsa: bool = False) -> PublicKey:
        """Import a public JWK (private members, if present, are ignored); an RSA key only
        when ``rsa`` is true."""
        jwk = _check_shape(jwk)
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if kty == "EC" and crv == "P-256":
            # First: every holder key a verifier imports (cnf.jwk) comes this way, once each.
            x, y = _member(jwk, "x", 32), _member(jwk, "y", 32)
            try:
                key = ec.EllipticCurvePublicKey.from_encoded_point(_P256, b"\x04" + x + y)
            except ValueError as exc:
                raise InputError("invalid_key", "the point is not on P-256") from exc
            pub = {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}
            return cls("ES256", pub, ec_key=key)
        if kty == "RSA" and rsa:
            return cls._from_rsa_jwk(jwk)
        if kty == "OKP" and crv == "Ed25519":
            x = _member(jwk, "x", 32)
            try:
                ed = nacl.signing.VerifyKey(x)
            except (nacl.exceptions.CryptoError, ValueError) as exc:  # pragma: no cover
                raise InputError("invalid_key", "not an Ed25519 point") from exc
            return cls("EdDSA", {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}, ed_key=ed)
        raise InputError("invalid_key", f"unsupported key type {kty!r}/{crv!r}")

    @classmethod
    def _from_rsa_jwk(cls, jwk: dict[str, Any]) -> PublicKey:
        n, e = _rsa_int(jwk, "n"), _rsa_int(jwk, "e")
        if e != _RSA_E or not _RSA_MIN_BITS <= n.bit_length() <= _RSA_MAX_BITS or n % 2 == 0:
            raise InputError(
                "invalid_key",
                f"an RSA key needs e=65537 and a {_RSA_MIN_BITS}-{_RSA_MAX_BITS} bit modulus",
            )
        nums = rsa.RSAPublicNumbers(e, n)
        return cls("RS256", _rsa_public_jwk(nums), rsa_key=nums.public_key())

    def to_jwk(self) -> dict[str, str]:
        """The public JWK (a fresh dict the caller may change)."""
        return dict(self._jwk)

    def thumbprint(self) -> str:
        """RFC 7638 §3 thumbprint: SHA-256 over the required members, sorted, no whitespace."""
        if self._thumbprint is None:
            digest = hashlib.sha256(json_canonical(self._jwk)).digest()
            self._thumbprint = b64url_encode(digest)
        return self._thumbprint

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` (JOSE form: raw r||s for ES256) is valid, else raise."""
        if self._ed is not None:
            try:
                self._ed.verify(data, signature)
            except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
                raise VerificationError("invalid_signature") from exc
            return
        if self._rsa is not None:
            try:
                self._rsa.verify(signature, data, _PKCS1, _SHA256)
            except (InvalidSignature, ValueError) as exc:
                raise VerificationError("invalid_signature") from exc
            return
        assert self._ec is not None
        if len(signature) != 64:
            raise VerificationError("invalid_signature", "an ES256 signature is 64 bytes")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self._ec.verify(der, data, _ECDSA_SHA256)
        except InvalidSignature as exc:
            raise VerificationError("invalid_signature") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self._jwk == other._jwk

    def __hash__(self) -> int:
        return hash(self.thumbprint())

    def __repr__(self) -> str:
        return f"PublicKey({self.alg}, {self.thumbprint()})"


class PrivateKey:
    """A signing key. It signs; it does not export itself (see :mod:`.sealing`)."""

    __slots__ = ("_ec", "_ed", "_rsa", "alg", "public_key")

    def __init__(
        self,
        alg: Alg,
        public_key: PublicKey,
        *,
        ec_key: ec.EllipticCurvePrivateKey | None = None,
        ed_key: nacl.signing.SigningKey | None = None,
        rsa_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        self.alg: Alg = alg
        self.public_key = public_key
        self._ec = ec_key
        self._ed = ed_key
        self._rsa = rsa_key

    @classmethod
    def generate(cls, alg: Alg = "ES256") -> PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        if alg == "EdDSA":
            return cls._from_ed(nacl.signing.SigningKey.generate())
        if alg == "ES256":
            return cls._from_ec(ec.generate_private_key(ec.SECP256R1()))
        if alg == "RS256":
            return cls._from_rsa(rsa.generate_private_key(_RSA_E, _RSA_MIN_BITS))
        raise InputError("unsupported_algorithm", f"cannot generate {alg!r} keys")

    @classmethod
    def ed25519_from_seed(cls, seed: bytes) -> PrivateKey:
        """The Ed25519 key of a 32-byte secret ``seed`` (RFC 8032 §5.1.5), for keys derived
        from a master secret rather than stored."""
        if len(seed) != 32:
            raise InputError("invalid_key", "an Ed25519 seed is 32 bytes")
        return cls._from_ed(nacl.signing.SigningKey(seed))

    @classmethod
    def _from_ed(cls, sk: nacl.signing.SigningKey) -> PrivateKey:
        x = b64url_encode(bytes(sk.verify_key))
        pub = PublicKey("EdDSA", {"kty": "OKP", "crv": "Ed25519", "x": x}, ed_key=sk.verify_key)
        return cls("EdDSA", pub, ed_key=sk)

    @classmethod
    def _from_ec(cls, sk: ec.EllipticCurvePrivateKey) -> PrivateKey:
        nums = sk.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(nums.x.to_bytes(32, "big")),
            "y": b64url_encode(nums.y.to_bytes(32, "big")),
        }
        return cls("ES256", PublicKey("ES256", jwk, ec_key=sk.public_key()), ec_key=sk)

    @classmethod
    def _from_rsa(cls, sk: rsa.RSAPrivateKey) -> PrivateKey:
        nums = sk.public_key().public_numbers()
        pub = PublicKey("RS256", _rsa_public_jwk(nums), rsa_key=sk.public_key())
        return cls("RS256", pub, rsa_key=sk)

    @classmethod
    def from_jwk(cls, jwk: object) -> PrivateKey:
        """Import a private JWK and check that its public members match the private scalar."""
        jwk = _check_shape(jwk)
        public = PublicKey.from_jwk(jwk)
        if public.alg == "EdDSA":
            key = cls._from_ed(nacl.signing.SigningKey(_member(jwk, "d", 32)))
        else:
            d = int.from_bytes(_member(jwk, "d", 32), "big")
            try:
                key = cls._from_ec(ec.derive_private_key(d, ec.SECP256R1()))
            except ValueError as exc:
                raise InputError("invalid_key", "the private scalar is out of range") from exc
        if key.public_key != public:
            raise InputError("invalid_key", "the JWK's public members do not match its private key")
        return key

    @classmethod
    def _from_private_bytes(cls, alg: Alg, raw: bytes) -> PrivateKey:
        """Rebuild from :meth:`_private_bytes` (used only by :mod:`.sealing`)."""
        if alg == "EdDSA" and len(raw) == 32:
            return cls._from_ed(nacl.signing.SigningKey(raw))
        if alg == "ES256" and len(raw) == 32:
            return cls._from_ec(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
        if alg == "RS256":
            try:
                sk = serialization.load_der_private_key(raw, password=None)
            except (ValueError, TypeError) as exc:
                raise InputError("invalid_key", "sealed RSA key material is malformed") from exc
            if isinstance(sk, rsa.RSAPrivateKey):
                return cls._from_rsa(sk)
        raise InputError("invalid_key", "sealed key material has the wrong shape")

    def _private_bytes(self) -> bytes:
        """The raw private scalar/seed; only :mod:`.sealing` may call this."""
        if self._ed is not None:
            return bytes(self._ed)
        if self._rsa is not None:
            return self._rsa.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        assert self._ec is not None
        return self._ec.private_numbers().private_value.to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; ES256 signatures come back in JOSE form (raw r||s, 64 bytes)."""
        if self._ed is not None:
            return self._ed.sign(data).signature
        if self._rsa is not None:
            return self._rsa.sign(data, _PKCS1, _SHA256)
        assert self._ec is not None
        r, s = decode_dss_signature(self._ec.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return f"PrivateKey({self.alg}, {self.public_key.thumbprint()})"


def generate_private_jwk(alg: Alg = "ES256") -> dict[str, str]:
    """A fresh private JWK, for callers that keep keys as JWK dicts (issuers, tests).

    This creates key material; it is not an export path for an existing key.
    """
    key = PrivateKey.generate(alg)
    jwk = key.public_key.to_jwk()
    jwk["d"] = b64url_encode(key._private_bytes())
    return jwk


def public_jwk(jwk: dict[str, Any]) -> dict[str, str]:
    """The public part of a JWK (validated)."""
    return PublicKey.from_jwk(jwk).to_jwk()
