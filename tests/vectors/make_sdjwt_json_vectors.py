"""Writes tests/vectors/sdjwt-json/: JWS JSON serialized SD-JWT+KBs (RFC 9901 §8), good and bad.

The reference tool's JSON examples (../shared/vectors/sd-jwt/json_serialization_*) take the
KB-JWT's ``sd_hash`` over the whole issued document, which no verifier can rebuild (§8.1 wants
it over ``<protected>.<payload>.<signature>~<Disclosure>~...~`` of the first signature). These
vectors cover the key-binding path instead, Flattened (§8.2) and General (§8.3), and one
change per bad case. Every key is Ed25519, whose signatures are deterministic, so running this
again writes the same bytes (``test_sdjwt_json_vectors_are_reproducible`` checks it)::

    .venv/bin/python -m tests.vectors.make_sdjwt_json_vectors
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

from civicstack import sdjwt
from civicstack._crypto import PrivateKey, json_dumps, sign_compact

DIRECTORY = FsPath(__file__).parent / "sdjwt-json"
ISS = "https://issuer.example"
VCT = "urn:example:pid:1"
AUD = "https://verifier.example"
NONCE = "nonce-json-1"
NOW = 1_767_225_600
# Test keys, made for these vectors only.
ISSUER_KEYS = {
    "issuer-1": {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "hWYMH995mfYjEYT329ywc9O7JQ1p9pYJDlN-T3WcnQc",
        "d": "g_lQvHadysCKg_27W90wQf10AGUzrSm-NcRvS9yavMc",
    },
    "issuer-2": {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "w0FFz_boXuap_hQWACB159C_07RobD3clU4hE8OKjzI",
        "d": "lGVu60KSS4jY6_w1glOpaZ6E1QBxCoBIRq-zK5-1KDE",
    },
}
HOLDER_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "t1_TmFBvVs2Q6ekz5uZbo0DKQ3eVC4vdm4qJXp2RVg4",
    "d": "inMP2kJqVo1Hl2iD9mhG2whbEzOQwwltP5ncvkmY_L4",
}
# Signs nothing that the trust in the tests knows: a stranger's key.
STRANGER_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "Obz3b0N5y748jI5s_DydtWH98yl0gBqi5lPPGcydRb4",
    "d": "fFyRdlpwkaUf5Yaat_5jhYpz6SodIpqe-1EdyB5vDQU",
}

GIVEN = sdjwt.make_disclosure("Z2l2ZW5naXZlbmdpdmVuZw", "given_name", "Ada")
FAMILY = sdjwt.make_disclosure("ZmFtaWx5ZmFtaWx5ZmFtaQ", "family_name", "Lovelace")
BIRTH = sdjwt.make_disclosure("YmlydGhiaXJ0aGJpcnRoYg", "birthdate", "1815-12-10")
STRAY = sdjwt.make_disclosure("c3RyYXlzdHJheXN0cmF5cw", "admin", True)


def _private(kid: str) -> PrivateKey:
    return PrivateKey.from_jwk(ISSUER_KEYS[kid])


def _public(jwk: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in jwk.items() if k != "d"}


PAYLOAD: dict[str, Any] = {
    "iss": ISS,
    "iat": NOW - 3600,
    "exp": NOW + 86400,
    "vct": VCT,
    "cnf": {"jwk": _public(HOLDER_KEY)},
    "_sd": sorted([GIVEN.digest, FAMILY.digest, BIRTH.digest]),
    "age_over_18": True,
    "_sd_alg": "sha-256",
}
VERIFIED = {k: v for k, v in PAYLOAD.items() if k not in ("_sd", "_sd_alg")}
WITHHELD = dict(VERIFIED)
VERIFIED.update({"given_name": "Ada", "family_name": "Lovelace"})


def _jws(kid: str, typ: str = "dc+sd-jwt", payload: dict[str, Any] = PAYLOAD) -> str:
    return sign_compact(_private(kid), json_dumps(payload), {"typ": typ, "kid": kid})


def _kb(sd_hash_input: str, **changes: Any) -> str:
    claims: dict[str, Any] = {"iat": NOW - 5, "aud": AUD, "nonce": NONCE}
    claims["sd_hash"] = sdjwt.sd_hash(sd_hash_input)
    claims.update(changes)
    return sign_compact(PrivateKey.from_jwk(HOLDER_KEY), json_dumps(claims), {"typ": "kb+jwt"})


def _compact(jws: str, disclosures: list[str]) -> str:
    """§8.1: what sd_hash covers, ``<protected>.<payload>.<signature>~<D1>~...~<DN>~``."""
    return jws + "~" + "".join(d + "~" for d in disclosures)


def _parts(jws: str) -> tuple[str, str, str]:
    protected, payload, signature = jws.split(".")
    return protected, payload, signature


def flattened(
    jws: str | None = None,
    disclosures: list[str] | None = None,
    *,
    kb_jwt: str | None = None,
    with_kb: bool = True,
    header: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """§8.2: one signature, ``disclosures`` and ``kb_jwt`` in its unprotected header."""
    jws = jws or _jws("issuer-1")
    disclosures = [GIVEN.encoded, FAMILY.encoded] if disclosures is None else disclosures
    protected, payload, signature = _parts(jws)
    unprotected: dict[str, Any] = {"disclosures": disclosures}
    if with_kb:
        unprotected["kb_jwt"] = kb_jwt or _kb(_compact(jws, disclosures))
    unprotected.update(header or {})
    return {
        "payload": payload,
        "protected": protected,
        "header": unprotected,
        "signature": signature,
    }


def general(
    jwss: list[str] | None = None,
    disclosures: list[str] | None = None,
    *,
    kb_jwt: str | None = None,
    headers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """§8.3: several signatures over one payload; ``disclosures`` and ``kb_jwt`` in the first
    signature's unprotected header (and in no other)."""
    jwss = jwss or [_jws("issuer-1"), _jws("issuer-2")]
    disclosures = [GIVEN.encoded, FAMILY.encoded] if disclosures is None else disclosures
    signatures = []
    for index, jws in enumerate(jwss):
        protected, _, signature = _parts(jws)
        unprotected: dict[str, Any] = {}
        if index == 0:
            unprotected["disclosures"] = disclosures
            unprotected["kb_jwt"] = kb_jwt or _kb(_compact(jws, disclosures))
        if headers and index < len(headers):
            unprotected.update(headers[index])
        signatures.append({"protected": protected, "header": unprotected, "signature": signature})
    return {"payload": _parts(jwss[0])[1], "signatures": signatures}


def _with(document: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    change(copy)
    return copy


def _other_payload() -> str:
    return _parts(_jws("issuer-1", payload={**PAYLOAD, "age_over_18": False}))[1]


def _second_signature_payload(document: dict[str, Any]) -> None:
    document["signatures"][1]["payload"] = _other_payload()


def _second_signature_altered(document: dict[str, Any]) -> None:
    signature = document["signatures"][1]["signature"]
    document["signatures"][1]["signature"] = ("B" if signature[0] == "A" else "A") + signature[1:]


def _sd_hash_over_the_document() -> dict[str, Any]:
    """What the reference tool does: sd_hash over the JSON document with its Disclosures."""
    document = flattened(with_kb=False)
    document["header"]["kb_jwt"] = _kb(json.dumps(document, sort_keys=True))
    return document


def _disclosures_in_two_places(document: dict[str, Any]) -> None:
    document["disclosures"] = document["header"]["disclosures"]


def cases() -> dict[str, dict[str, Any]]:
    """Every vector: name -> description, the RFC text it is about, presentation, expected."""
    one = [_jws("issuer-1")]
    general_doc = general()
    flattened_doc = flattened()
    stranger = sign_compact(
        PrivateKey.from_jwk(STRANGER_KEY), json_dumps(PAYLOAD), {"typ": "dc+sd-jwt", "kid": "x"}
    )
    good: list[tuple[str, str, str, dict[str, Any]]] = [
        ("flattened_kb", "Flattened SD-JWT+KB with two Disclosures", "§8.2", flattened_doc),
        ("flattened_kb_no_disclosures", "Flattened SD-JWT+KB disclosing nothing", "§8.2",
         flattened(disclosures=[])),
        ("general_kb", "General SD-JWT+KB signed by two issuer keys", "§8.3", general_doc),
        ("general_kb_one_signature", "General SD-JWT+KB with one signature", "§8.3",
         general(one)),
        ("flattened_unknown_unprotected_member",
         "An unknown unprotected header parameter is ignored (RFC 7515 §4) and sd_hash does not "
         "cover it (§8.1)", "§8.1",
         flattened(header={"x-note": "not covered by any signature"})),
        ("general_kid_in_unprotected_header",
         "kid in the unprotected header only: a hint to find the key, the signature decides",
         "§8.3", general([_jws("issuer-1"), sign_compact(
             _private("issuer-2"), json_dumps(PAYLOAD), {"typ": "dc+sd-jwt"})],
             headers=[{}, {"kid": "issuer-2"}])),
    ]  # fmt: skip
    bad: list[tuple[str, str, str, dict[str, Any], str]] = [
        ("flattened_sd_hash_over_other_disclosures",
         "sd_hash covers fewer Disclosures than presented", "§8.1",
         flattened(kb_jwt=_kb(_compact(_jws("issuer-1"), [GIVEN.encoded]))),
         "key_binding_failed"),
        ("flattened_sd_hash_over_the_document",
         "sd_hash over the JSON document, as the reference tool computes it", "§8.1",
         _sd_hash_over_the_document(), "key_binding_failed"),
        ("general_sd_hash_over_second_signature",
         "sd_hash built from the second signature instead of the first", "§8.1, §8.3",
         general(kb_jwt=_kb(_compact(_jws("issuer-2"), [GIVEN.encoded, FAMILY.encoded]))),
         "key_binding_failed"),
        ("flattened_unreferenced_disclosure",
         "a Disclosure no digest references, covered by sd_hash", "§7.1 step 5",
         flattened(disclosures=[GIVEN.encoded, STRAY.encoded]), "unreferenced_disclosure"),
        ("flattened_no_kb_jwt", "an SD-JWT without kb_jwt where key binding is required",
         "§7.3 step 2", flattened(with_kb=False), "key_binding_required"),
        ("flattened_wrong_nonce", "a KB-JWT with another nonce", "§7.3 step 5.6",
         flattened(kb_jwt=_kb(_compact(_jws("issuer-1"), [GIVEN.encoded, FAMILY.encoded]),
                              nonce="other")), "wrong_nonce"),
        ("flattened_empty_kb_jwt", "kb_jwt is an empty string", "§8.1",
         flattened(with_kb=False, header={"kb_jwt": ""}), "malformed"),
        ("flattened_disclosures_not_a_list", "disclosures is a string", "§8.1",
         flattened(header={"disclosures": GIVEN.encoded}), "malformed"),
        ("flattened_disclosures_in_two_places",
         "disclosures in the unprotected header and at the top level", "§8.1",
         _with(flattened_doc, _disclosures_in_two_places), "malformed"),
        ("flattened_crit_unprotected", "crit in the unprotected header", "RFC 7515 §4.1.11",
         flattened(header={"crit": ["x-note"], "x-note": 1}), "malformed"),
        ("flattened_header_both_protected_and_unprotected",
         "typ in both the protected and unprotected header", "RFC 7515 §7.2.1",
         flattened(header={"typ": "dc+sd-jwt"}), "malformed"),
        ("flattened_plain_sd_jwt", "an issuer JWT typed example+sd-jwt, not an SD-JWT VC",
         "SD-JWT VC §3.2.1", flattened(_jws("issuer-1", typ="example+sd-jwt")),
         "invalid_credential"),
        ("general_two_payloads", "a signature object carrying a second, different payload",
         "§8.3, RFC 7515 §7.2.1", _with(general_doc, _second_signature_payload), "malformed"),
        ("general_disclosures_in_second_header",
         "disclosures in the second signature's unprotected header", "§8.3",
         general(headers=[{}, {"disclosures": [BIRTH.encoded]}]), "malformed"),
        ("general_kb_jwt_in_second_header", "kb_jwt in the second signature's header too",
         "§8.3", general(headers=[{}, {"kb_jwt": _kb("x~")}]), "malformed"),
        ("general_second_signature_altered", "the second signature does not verify",
         "§9.1, RFC 7515 §7.2.1", _with(general_doc, _second_signature_altered),
         "invalid_signature"),
        ("general_second_signature_by_a_stranger",
         "the second signature is by a key the trust does not give for the issuer",
         "§9.1, RFC 7515 §7.2.1", general([_jws("issuer-1"), stranger]), "untrusted_issuer"),
        ("general_signatures_disagree_on_typ",
         "the second signature types the payload example+sd-jwt", "SD-JWT VC §3.2.1, §8.3",
         general([_jws("issuer-1"), _jws("issuer-2", typ="example+sd-jwt")]),
         "invalid_credential"),
        ("general_mixed_with_flattened",
         "signatures next to a top-level protected and signature", "RFC 7515 §7.2.1",
         {**general_doc, "protected": flattened_doc["protected"],
          "signature": flattened_doc["signature"]}, "malformed"),
        ("general_no_signatures", "an empty signatures array", "RFC 7515 §7.2.1",
         {**general_doc, "signatures": []}, "malformed"),
    ]  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    for name, description, section, document in good:
        shown = document.get("header") or document["signatures"][0]["header"]
        claims = VERIFIED if shown["disclosures"] else WITHHELD
        out[name] = {
            "description": description,
            "section": section,
            "presentation": json.dumps(document),
            "expected": {"claims": claims},
        }
    for name, description, section, document, code in bad:
        out[name] = {
            "description": description,
            "section": section,
            "presentation": json.dumps(document),
            "expected": {"error": code},
        }
    return out


def context() -> dict[str, Any]:
    """What a verifier of these vectors knows: the issuer's keys by kid, aud, nonce, now."""
    return {
        "iss": ISS,
        "aud": AUD,
        "nonce": NONCE,
        "now": NOW,
        "issuer_keys": {kid: _public(jwk) for kid, jwk in ISSUER_KEYS.items()},
    }


def files() -> dict[str, str]:
    """File name -> text, as checked in."""
    out = {"context.json": json.dumps(context(), indent=2) + "\n"}
    for name, case in cases().items():
        out[f"{name}.json"] = json.dumps(case, indent=2, ensure_ascii=False) + "\n"
    return out


def main() -> None:
    """Write every file."""
    DIRECTORY.mkdir(exist_ok=True)
    for name, text in files().items():
        (DIRECTORY / name).write_text(text)


if __name__ == "__main__":
    main()
