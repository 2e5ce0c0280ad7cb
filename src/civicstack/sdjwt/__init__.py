"""Selective Disclosure for JWTs: RFC 9901 mechanics, free of any credential policy.

* :mod:`._disclosures` — creating Disclosures, digests, decoys and nested (recursive)
  concealment (§4.2);
* :mod:`._serialization` — reading the compact (§4) and JWS JSON (§8) serializations with caps
  on every part;
* :mod:`._processing` — processing Disclosures with every check of §7.1 step 3 to 5, and the
  Holder's selection of Disclosures (§7.2);
* :mod:`._keybinding` — the Key Binding JWT (§4.3) and its verification (§7.3 step 5);
* :mod:`._verify` — the whole verification of §7.1 and §7.3 in order;
* :mod:`.limits` — :class:`Limits`, the caps every entry point that reads input takes as
  ``limits`` (keyword-only), and :data:`DEFAULT_LIMITS`.

Only ``sha-256`` is accepted for ``_sd_alg`` (§4.1.1 makes it mandatory to implement; we
refuse every other algorithm rather than trust a weaker one). Credential rules (SD-JWT VC,
trust, status) live in :mod:`civicstack.credentials`.
"""

from civicstack.sdjwt._disclosures import (
    DOTS,
    SD,
    SD_ALG,
    SHA_256,
    Concealed,
    Disclosure,
    Path,
    Rng,
    conceal,
    decode_disclosure,
    disclosure_digest,
    format_path,
    make_disclosure,
    parse_path,
)
from civicstack.sdjwt._keybinding import (
    KB_TYP,
    cnf_key,
    create_key_binding,
    sd_hash,
    verify_key_binding,
)
from civicstack.sdjwt._processing import DisclosedClaim, Processed, process, select_disclosures
from civicstack.sdjwt._serialization import IssuerSignature, SdJwt, parse_sd_jwt
from civicstack.sdjwt._verify import (
    REQUIRE_KEY_BINDING,
    KeyBindingPolicy,
    KeyResolver,
    RequireKeyBinding,
    UnsafeNoKeyBinding,
    VerifiedSdJwt,
    check_validity,
    verify_sd_jwt,
)
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "DOTS",
    "KB_TYP",
    "REQUIRE_KEY_BINDING",
    "SD",
    "SD_ALG",
    "SHA_256",
    "Concealed",
    "DisclosedClaim",
    "Disclosure",
    "IssuerSignature",
    "KeyBindingPolicy",
    "KeyResolver",
    "Limits",
    "Path",
    "Processed",
    "RequireKeyBinding",
    "Rng",
    "SdJwt",
    "UnsafeNoKeyBinding",
    "VerifiedSdJwt",
    "check_validity",
    "cnf_key",
    "conceal",
    "create_key_binding",
    "decode_disclosure",
    "disclosure_digest",
    "format_path",
    "make_disclosure",
    "parse_path",
    "parse_sd_jwt",
    "process",
    "sd_hash",
    "select_disclosures",
    "verify_key_binding",
    "verify_sd_jwt",
]
