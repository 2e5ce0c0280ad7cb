"""The only package that touches the crypto libraries (pyca/cryptography, PyNaCl, argon2).

Everything else in civicstack calls these names; nothing else imports a crypto library.

Caps. This hazmat layer takes no recipe ``Limits``: its ceilings are absolute, fixed here, and
sit below every recipe's ``Limits`` (a recipe may set its caps lower, never past these): a JWS
protected header of 4 KiB (``jws.MAX_HEADER_BYTES``), 32 members of a JWK, an AEAD-encrypted
record of 64 MiB (``aead.MAX_RECORD_BYTES``), a passphrase-sealed secret of 4 KiB, argon2id
parameters of at most 2 GiB and 64 passes. :data:`MAX_JWS_BYTES` (128 KiB) is different: it
is only the default ``max_bytes`` of :func:`parse_compact`, :func:`verify_compact` and
:func:`verify_detached`; each recipe passes its own cap from its ``Limits``
(``sdjwt.Limits.issuer_jwt_bytes``, ``openid4vp.Limits.request_object_bytes``; a Token Status
List token may be larger).
"""

from civicstack._crypto.aead import (
    aead_decrypt,
    aead_encrypt,
    kek_id,
    open_bytes,
    seal_bytes,
    unwrap_private_key,
    wrap_private_key,
)
from civicstack._crypto.encoding import (
    b64url_decode,
    b64url_encode,
    json_canonical,
    json_dumps,
    json_loads_strict,
    json_object_strict,
)
from civicstack._crypto.hashing import (
    MAP_EMPTY,
    MERKLE_EMPTY_ROOT,
    b64url_with_digest,
    map_leaf_hash,
    map_node_hash,
    merkle_leaf_hash,
    merkle_leaf_hashes,
    merkle_node_hash,
    merkle_parents,
    sha256_b64url,
    sha256_digest,
)
from civicstack._crypto.jws import (
    MAX_JWS_BYTES,
    CompactJWS,
    parse_compact,
    sign_compact,
    sign_detached,
    sign_jwt,
    verify_compact,
    verify_detached,
)
from civicstack._crypto.keys import (
    ALGORITHMS,
    SUPPORTED_ALGORITHMS,
    Alg,
    PrivateKey,
    PublicKey,
    generate_private_jwk,
    public_jwk,
)
from civicstack._crypto.raw_keys import (
    constant_time_equal,
    ed25519_generate_seed,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
    hmac_sha256,
)
from civicstack._crypto.sealing import open_private_key, seal_private_key

__all__ = [
    "ALGORITHMS",
    "MAP_EMPTY",
    "MAX_JWS_BYTES",
    "MERKLE_EMPTY_ROOT",
    "SUPPORTED_ALGORITHMS",
    "Alg",
    "CompactJWS",
    "PrivateKey",
    "PublicKey",
    "aead_decrypt",
    "aead_encrypt",
    "b64url_decode",
    "b64url_encode",
    "b64url_with_digest",
    "constant_time_equal",
    "ed25519_generate_seed",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "generate_private_jwk",
    "hmac_sha256",
    "json_canonical",
    "json_dumps",
    "json_loads_strict",
    "json_object_strict",
    "kek_id",
    "map_leaf_hash",
    "map_node_hash",
    "merkle_leaf_hash",
    "merkle_leaf_hashes",
    "merkle_node_hash",
    "merkle_parents",
    "open_bytes",
    "open_private_key",
    "parse_compact",
    "public_jwk",
    "seal_bytes",
    "seal_private_key",
    "sha256_b64url",
    "sha256_digest",
    "sign_compact",
    "sign_detached",
    "sign_jwt",
    "unwrap_private_key",
    "verify_compact",
    "verify_detached",
    "wrap_private_key",
]
