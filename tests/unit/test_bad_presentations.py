"""A corpus of bad presentations, as data: each one fails verification with its own code.

Every case is built from a valid presentation by changing one thing, so the code a case
expects can only come from the check that case is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from civicstack import credentials as cred
from civicstack import sdjwt
from civicstack._crypto import PrivateKey, b64url_encode, json_dumps, sign_compact
from civicstack.errors import CivicError
from civicstack.status import SUSPENDED, StatusList, StatusListClient, sign_status_list_token
from civicstack.testing import FixedClock, InMemoryFetcher

NOW = 1_767_225_600
ISS = "https://passport.example.gov"
AUD, NONCE = "https://shop.example", "nonce-1"
ISSUER = PrivateKey.generate("ES256")
HOLDER = PrivateKey.generate("ES256")
OTHER = PrivateKey.generate("ES256")
STATUS_URI = "https://passport.example.gov/status/1"
SALT = "c2FsdHNhbHRzYWx0c2FsdA"


def disclosure(name: str | None, value: Any, salt: str = SALT) -> sdjwt.Disclosure:
    """A well-formed Disclosure."""
    return sdjwt.make_disclosure(salt, name, value)


def raw_disclosure(array: Any) -> str:
    """Any JSON, encoded like a Disclosure."""
    return b64url_encode(json_dumps(array))


GIVEN = disclosure("given_name", "Ada")
AGE = disclosure("age_over_18", True, salt="YWdlYWdlYWdlYWdlYWdlYQ")


def payload(**changes: Any) -> dict[str, Any]:
    """The valid payload, with ``changes`` applied (a value of None deletes the claim)."""
    base: dict[str, Any] = {
        "iss": ISS,
        "iat": NOW - 100,
        "exp": NOW + 3600,
        "vct": "urn:eudi:pid:1",
        "cnf": {"jwk": HOLDER.public_key.to_jwk()},
        "_sd": sorted([GIVEN.digest, AGE.digest]),
        "_sd_alg": "sha-256",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def jwt(
    claims: dict[str, Any] | bytes, header: dict[str, Any] | None = None, key: PrivateKey = ISSUER
) -> str:
    """An issuer-signed JWT over ``claims`` (raw bytes are signed as they are)."""
    raw = claims if isinstance(claims, bytes) else json_dumps(claims)
    return sign_compact(key, raw, header if header is not None else {"typ": "dc+sd-jwt"})


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT with a header we choose entirely, and no valid signature."""
    return f"{b64url_encode(json_dumps(header))}.{b64url_encode(json_dumps(claims))}.{'A' * 86}"


def kb(
    sd: str, key: PrivateKey = HOLDER, header: dict[str, Any] | None = None, **changes: Any
) -> str:
    """A KB-JWT over ``sd``, with claim ``changes`` (None deletes)."""
    claims: dict[str, Any] = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sdjwt.sd_hash(sd)}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return sign_compact(
        key, json_dumps(claims), header if header is not None else {"typ": "kb+jwt"}
    )


def present(
    issuer_jwt: str | None = None,
    disclosures: list[str] | None = None,
    *,
    key_binding: bool = True,
    **kb_changes: Any,
) -> str:
    """Assemble ``<jwt>~<disclosures>~<kb>``; defaults give a valid presentation."""
    issuer_jwt = jwt(payload()) if issuer_jwt is None else issuer_jwt
    disclosures = [GIVEN.encoded] if disclosures is None else disclosures
    sd = issuer_jwt + "~" + "".join(d + "~" for d in disclosures)
    return sd + kb(sd, **kb_changes) if key_binding else sd


def only(d: sdjwt.Disclosure | str, **changes: Any) -> str:
    """A presentation whose one digest and one Disclosure are ``d``."""
    encoded = d if isinstance(d, str) else d.encoded
    return present(jwt(payload(_sd=[sdjwt.disclosure_digest(encoded)], **changes)), [encoded])


def also(d: sdjwt.Disclosure, **changes: Any) -> str:
    """The valid presentation with ``d`` referenced and disclosed as well."""
    claims = payload(_sd=sorted([GIVEN.digest, d.digest]), **changes)
    return present(jwt(claims), [GIVEN.encoded, d.encoded])


def unsigned_kb() -> str:
    """A presentation whose KB-JWT says alg none."""
    sd = jwt(payload()) + "~" + GIVEN.encoded + "~"
    claims = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sdjwt.sd_hash(sd)}
    return sd + unsigned({"alg": "none", "typ": "kb+jwt"}, claims)


def altered_signature() -> str:
    """The issuer JWT with its signature's first characters changed."""
    head, body, signature = jwt(payload()).split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    return present(f"{head}.{body}.{flipped}")


def status_client(value: int) -> StatusListClient:
    """A StatusListClient whose list holds ``value`` at index 0."""
    status_list = StatusList(16, 2)
    status_list[0] = value
    token = sign_status_list_token(ISSUER, status_list, uri=STATUS_URI, iat=NOW - 10, ttl=60)
    return StatusListClient(InMemoryFetcher({STATUS_URI: token}), clock=FixedClock(NOW))


def serving(body: str | None) -> dict[str, Any]:
    """Verification options with a status client fetching ``body`` (None: nothing there)."""
    documents = {} if body is None else {STATUS_URI: body}
    return {"status": StatusListClient(InMemoryFetcher(documents), clock=FixedClock(NOW))}


WITH_STATUS = payload(status={"status_list": {"idx": 0, "uri": STATUS_URI}})
DECOY = sdjwt.disclosure_digest("decoy")
DEEP: Any = "leaf"
for _ in range(40):
    DEEP = {"d": DEEP}


@dataclass(frozen=True)
class Bad:
    """One bad presentation and the code that must reject it."""

    name: str
    code: str
    build: Callable[[], str]
    verify: dict[str, Any] = field(default_factory=dict)


CORPUS = [
    # --- RFC 9901 §7.1 step 3 to 5: Disclosures and digests -----------------------------------
    Bad("unreferenced disclosure", "unreferenced_disclosure",
        lambda: present(disclosures=[GIVEN.encoded, disclosure("admin", True).encoded])),
    Bad("digest twice in _sd", "duplicate_digest",
        lambda: present(jwt(payload(_sd=[GIVEN.digest, GIVEN.digest])))),
    Bad("digest in _sd and in an array", "duplicate_digest",
        lambda: present(jwt(payload(_sd=[GIVEN.digest, DECOY], list=[{"...": DECOY}])))),
    Bad("disclosure presented twice", "duplicate_disclosure",
        lambda: present(disclosures=[GIVEN.encoded, GIVEN.encoded])),
    Bad("disclosed name collides with a plain claim", "claim_collision",
        lambda: present(jwt(payload(given_name="Eve")))),
    Bad("two disclosures of one name", "claim_collision",
        lambda: also(disclosure("given_name", "Eve", salt="ZXZlZXZlZXZlZXZlZXZlZQ"))),
    Bad("disclosure named _sd", "reserved_claim", lambda: only(disclosure("_sd", []))),
    Bad("disclosure named ...", "reserved_claim", lambda: only(disclosure("...", 1))),
    Bad("_sd is not an array", "reserved_claim", lambda: present(jwt(payload(_sd="x")), [])),
    Bad("_sd holds a number", "reserved_claim", lambda: present(jwt(payload(_sd=[1])), [])),
    Bad("... object with other members", "reserved_claim",
        lambda: present(jwt(payload(list=[{"...": GIVEN.digest, "x": 1}])), [])),
    Bad("... used as an object member", "reserved_claim",
        lambda: present(jwt(payload(obj={"...": "x"})))),
    Bad("_sd_alg in a nested object", "reserved_claim",
        lambda: present(jwt(payload(obj={"_sd_alg": "sha-256"})))),
    Bad("disclosure is not base64url JSON", "invalid_disclosure",
        lambda: only(b64url_encode(b"not json"))),
    Bad("disclosure with four elements", "invalid_disclosure",
        lambda: only(raw_disclosure([SALT, "a", 1, 2]))),
    Bad("disclosure salt is not a string", "invalid_disclosure",
        lambda: only(raw_disclosure([1, "a", 1]))),
    Bad("disclosure claim name is not a string", "invalid_disclosure",
        lambda: only(raw_disclosure([SALT, 7, 1]))),
    Bad("array-element disclosure referenced from _sd", "invalid_disclosure",
        lambda: only(disclosure(None, "x"))),
    Bad("object-property disclosure referenced from ...", "invalid_disclosure",
        lambda: present(jwt(payload(_sd=[], list=[{"...": GIVEN.digest}])))),
    Bad("empty disclosure", "malformed", lambda: present(disclosures=[""])),
    # --- RFC 9901 §7.1 step 2: the issuer-signed JWT ---------------------------------------------
    Bad("signed by another key", "invalid_signature", lambda: present(jwt(payload(), key=OTHER))),
    Bad("signature altered", "invalid_signature", altered_signature),
    Bad("alg none", "unsupported_algorithm",
        lambda: present(unsigned({"alg": "none", "typ": "dc+sd-jwt"}, payload()))),
    Bad("alg HS256", "unsupported_algorithm",
        lambda: present(unsigned({"alg": "HS256", "typ": "dc+sd-jwt"}, payload()))),
    Bad("alg EdDSA with a P-256 key", "unsupported_algorithm",
        lambda: present(unsigned({"alg": "EdDSA", "typ": "dc+sd-jwt"}, payload()))),
    Bad("_sd_alg sha-512", "unsupported_algorithm",
        lambda: present(jwt(payload(_sd_alg="sha-512")))),
    Bad("a status list token posing as a credential", "invalid_credential",
        lambda: present(jwt(payload(), header={"typ": "statuslist+jwt"}))),
    Bad("a KB-JWT posing as a credential", "invalid_credential",
        lambda: present(jwt(payload(), header={"typ": "kb+jwt"}))),
    Bad("untrusted issuer", "untrusted_issuer", present,
        {"trust": cred.StaticIssuer(ISSUER.public_key, iss="https://other.example")}),
    # --- RFC 9901 §7.1 step 6 and SD-JWT VC ------------------------------------------------------
    Bad("expired", "expired", lambda: present(jwt(payload(exp=NOW)))),
    Bad("not yet valid (nbf)", "not_yet_valid", lambda: present(jwt(payload(nbf=NOW + 60)))),
    Bad("issued in the future", "not_yet_valid", lambda: present(jwt(payload(iat=NOW + 3600)))),
    Bad("exp is not a number", "invalid_credential", lambda: present(jwt(payload(exp="soon")))),
    Bad("SD-JWT VC without vct", "invalid_credential", lambda: present(jwt(payload(vct=None)))),
    Bad("SD-JWT VC without iss", "invalid_credential", lambda: present(jwt(payload(iss=None)))),
    Bad("vct selectively disclosed", "invalid_credential",
        lambda: also(disclosure("vct", "urn:eudi:pid:1", salt="dmN0dmN0dmN0dmN0dmN0dg"), vct=None)),
    # --- RFC 9901 §7.3: key binding -----------------------------------------------------------
    Bad("no KB-JWT", "key_binding_required", lambda: present(key_binding=False)),
    Bad("KB-JWT signed by another key", "key_binding_failed", lambda: present(key=OTHER)),
    Bad("KB-JWT typ JWT", "key_binding_failed", lambda: present(header={"typ": "JWT"})),
    Bad("KB-JWT sd_hash over other disclosures", "key_binding_failed",
        lambda: present(sd_hash=sdjwt.sd_hash(jwt(payload()) + "~"))),
    Bad("KB-JWT without iat", "key_binding_failed", lambda: present(iat=None)),
    Bad("KB-JWT aud is a list", "key_binding_failed", lambda: present(aud=[AUD])),
    Bad("KB-JWT nonce is a number", "key_binding_failed", lambda: present(nonce=1)),
    Bad("KB-JWT alg none", "key_binding_failed", unsigned_kb),
    Bad("credential without cnf", "key_binding_failed", lambda: present(jwt(payload(cnf=None)))),
    Bad("KB-JWT for another verifier", "wrong_audience", lambda: present(aud="https://evil")),
    Bad("KB-JWT replayed with an old nonce", "wrong_nonce", lambda: present(nonce="old")),
    Bad("KB-JWT too old", "stale_key_binding", lambda: present(iat=NOW - 301)),
    Bad("KB-JWT from the future", "stale_key_binding", lambda: present(iat=NOW + 120)),
    Bad("KB-JWT expired", "stale_key_binding", lambda: present(exp=NOW)),
    # --- parsing and size caps ------------------------------------------------------------------
    Bad("no ~ at all", "malformed", lambda: jwt(payload())),
    Bad("JWS with two parts", "malformed", lambda: "abc.def~"),
    Bad("payload is not JSON", "malformed", lambda: present(jwt(b"not json"))),
    Bad("payload has a duplicate member", "malformed",
        lambda: present(jwt(b'{"iss":"a","iss":"' + ISS.encode() + b'"}'))),
    Bad("padded base64url", "malformed", lambda: present(jwt(payload()).replace(".", "=.", 1))),
    Bad("presentation over 256 KiB", "too_large", lambda: present() + "A" * 262_144),
    Bad("too many disclosures", "too_large", lambda: present(disclosures=["WyJhIiwxXQ"] * 513)),
    Bad("claims nested too deep", "too_large", lambda: present(jwt(payload(deep=DEEP)))),
    # --- Token Status List ------------------------------------------------------------------------
    Bad("revoked", "revoked", lambda: present(jwt(WITH_STATUS)), {"status": status_client(1)}),
    Bad("suspended", "suspended", lambda: present(jwt(WITH_STATUS)),
        {"status": status_client(SUSPENDED)}),
    Bad("application-specific status", "unknown_status", lambda: present(jwt(WITH_STATUS)),
        {"status": status_client(3)}),
    Bad("status list unreachable", "status_unavailable", lambda: present(jwt(WITH_STATUS)),
        serving(None)),
    Bad("status list is not a token", "invalid_status_list", lambda: present(jwt(WITH_STATUS)),
        serving("x.y.z")),
    Bad("status claim is not an object", "invalid_credential",
        lambda: present(jwt(payload(status="revoked")))),
]  # fmt: skip


def _verify(presentation: str, **overrides: Any) -> cred.VerifiedCredential:
    args: dict[str, Any] = {
        "trust": cred.StaticIssuer(ISSUER.public_key),
        "aud": AUD,
        "nonce": NONCE,
        "now": NOW,
        "status": status_client(0),
    }
    args.update(overrides)
    return cred.verify_presentation(presentation, **args)


def test_the_baseline_is_valid() -> None:
    """Unchanged, the corpus's presentation verifies (with a VALID status too)."""
    assert _verify(present()).claims == {"given_name": "Ada"}
    assert _verify(present(jwt(WITH_STATUS))).status == WITH_STATUS["status"]


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_presentation_fails_with_its_code(case: Bad) -> None:
    """The presentation is refused with exactly the code of the check it breaks."""
    with pytest.raises(CivicError) as err:
        _verify(case.build(), **case.verify)
    assert err.value.code == case.code, err.value.detail


def test_corpus_covers_every_credential_code() -> None:
    """Each verification code of the credentials core has at least one bad case."""
    codes = {case.code for case in CORPUS}
    required = {
        "unreferenced_disclosure", "duplicate_digest", "duplicate_disclosure", "claim_collision",
        "reserved_claim", "invalid_disclosure", "key_binding_required", "key_binding_failed",
        "wrong_audience", "wrong_nonce", "stale_key_binding", "invalid_signature", "expired",
        "not_yet_valid", "unsupported_algorithm", "malformed", "too_large", "revoked",
        "suspended", "invalid_credential", "untrusted_issuer", "status_unavailable",
        "invalid_status_list", "unknown_status",
    }  # fmt: skip
    assert required <= codes
