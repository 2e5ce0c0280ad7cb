"""Credential recipes: issue / present / inspect / verify, trust seams and SD-JWT VC rules."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Set
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from civicstack import credentials as cred
from civicstack import sdjwt
from civicstack._crypto import Alg, PrivateKey, PublicKey, json_dumps, sign_compact
from civicstack.credential_types import PID_VCT, pid_claims, pid_disclosable
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.status import StatusList, sign_status_list_token, status_reference
from civicstack.testing import generate_private_jwk
from civicstack.types import IssuerTrust

NOW = 1_767_225_600
ISS = "https://passport.example.gov"
ISSUER = PrivateKey.generate("ES256")
HOLDER = PrivateKey.generate("EdDSA")
ISSUER_JWK = generate_private_jwk("ES256")
HOLDER_JWK = generate_private_jwk("EdDSA")


def _pid() -> dict[str, Any]:
    return pid_claims(
        given_name="Ada",
        family_name="Lovelace",
        birthdate="2000-06-15",
        issuing_authority="GB HMPO",
        issuing_country="GB",
        now=NOW,
        nationalities=["GB", "FR"],
        address={"street_address": "1 Main St", "locality": "London", "country": "GB"},
        document_number="123456789",
    )


def _issue(**kw: Any) -> str:
    args: dict[str, Any] = {
        "iss": ISS,
        "vct": PID_VCT,
        "claims": _pid(),
        "holder": HOLDER.public_key,
        "iat": NOW,
        "exp": NOW + 86400,
        "disclosable": pid_disclosable(_pid()),
    }
    args.update(kw)
    return cred.issue_credential(ISSUER, **args)


def _present(sd_jwt: str, disclose: list[str], **kw: Any) -> str:
    args: dict[str, Any] = {"holder": HOLDER, "aud": "shop", "nonce": "n-1", "now": NOW + 10}
    args.update(kw)
    return cred.present_credential(sd_jwt, disclose=disclose, **args)


def _verify(presentation: str, **kw: Any) -> cred.VerifiedCredential:
    args: dict[str, Any] = {
        "trust": cred.StaticIssuer(ISSUER.public_key),
        "aud": "shop",
        "nonce": "n-1",
        "now": NOW + 20,
        "status": cred.UnsafeSkipStatus(),
    }
    args.update(kw)
    return cred.verify_presentation(presentation, **args)


def _code(fn: Any) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.mark.parametrize(("issuer_alg", "holder_alg"), [("ES256", "EdDSA"), ("EdDSA", "ES256")])
def test_public_trio_round_trip(issuer_alg: Alg, holder_alg: Alg) -> None:
    """issue -> present -> verify with JWK dicts shows exactly the chosen claims."""
    issuer = generate_private_jwk(issuer_alg)
    holder = generate_private_jwk(holder_alg)
    claims = {"given_name": "Ada", "age_over_18": True, "family_name": "L"}
    sd = cred.issue(issuer, iss=ISS, vct=PID_VCT, claims=claims, holder_jwk=holder, now=NOW)
    assert sd.endswith("~")
    p = cred.present(sd, disclose=["age_over_18"], holder_jwk=holder, aud="a", nonce="n", now=NOW)
    public = {k: v for k, v in issuer.items() if k != "d"}
    out = cred.verify(p, issuer_jwk=public, aud="a", nonce="n", now=NOW + 1)
    assert out["age_over_18"] is True
    assert "given_name" not in out
    assert "family_name" not in out
    assert out["iss"] == ISS
    assert out["vct"] == PID_VCT
    assert "_sd" not in out
    assert "_sd_alg" not in out


def test_age_only_presentation_reveals_nothing_else() -> None:
    """A shop asking for age_over_18 learns that, and not the name, birth date or address."""
    result = _verify(_present(_issue(), ["age_over_18"]))
    assert result.claims == {"age_over_18": True}
    assert result.disclosed == ("age_over_18",)
    assert result.key_bound
    assert result.holder == HOLDER.public_key
    assert result.iss == ISS
    assert result.vct == PID_VCT
    assert result.exp == NOW + 86400


def test_nested_paths_present_only_what_is_asked() -> None:
    """address.locality shows the locality, with the address Disclosure above it, nothing more."""
    result = _verify(_present(_issue(), ["address.locality", "nationalities.1"]))
    assert result.claims == {"address": {"locality": "London"}, "nationalities": ["FR"]}
    assert set(result.disclosed) == {
        "address",
        "address.locality",
        "nationalities",
        "nationalities.0",  # paths index the verifier's arrays: FR is its element 0
    }


def test_inspect_shows_the_holder_everything() -> None:
    """inspect merges every Disclosure and lists the withholdable paths."""
    held = cred.inspect(_issue())
    assert held.claims == _pid()
    assert held.iss == ISS
    assert held.vct == PID_VCT
    assert held.iat == NOW
    assert held.holder_jwk == HOLDER.public_key.to_jwk()
    assert {"age_over_18", "address", "address.locality", "nationalities.0"} <= set(
        held.disclosable
    )
    assert held.typ == "dc+sd-jwt"


def test_inspect_refuses_a_presentation() -> None:
    """A stored credential is an SD-JWT, never an SD-JWT+KB (RFC 9901 §7.2)."""
    assert _code(lambda: cred.inspect(_present(_issue(), []))) == "invalid_credential"


def test_present_with_another_key_is_refused() -> None:
    """The wallet cannot present with a key the credential is not bound to."""
    other = PrivateKey.generate("EdDSA")
    assert _code(lambda: _present(_issue(), [], holder=other)) == "key_binding_failed"


def test_present_unknown_claim_is_refused() -> None:
    """A path that names no claim is undisclosable_claim; an always-visible one is a no-op."""
    assert _code(lambda: _present(_issue(), ["shoe_size"])) == "undisclosable_claim"
    sd = _issue(disclosable=["given_name"])
    assert _verify(_present(sd, ["family_name"])).claims["family_name"] == "Lovelace"


def test_registered_claims_are_arguments_not_claims() -> None:
    """iss, vct, exp, cnf, status... in claims are refused: the recipe sets them itself."""
    for name in ("iss", "vct", "exp", "nbf", "cnf", "status", "iat", "vct#integrity"):
        claims = {**_pid(), name: "x"}
        assert _code(lambda claims=claims: _issue(claims=claims)) == "invalid_request"


def test_issue_checks_arguments() -> None:
    """Empty iss/vct, exp before iat, decoys out of range and bad status are refused."""
    assert _code(lambda: _issue(iss="")) == "invalid_request"
    assert _code(lambda: _issue(exp=NOW)) == "invalid_request"
    assert _code(lambda: _issue(decoys=65)) == "invalid_request"
    bad = {"status_list": {"idx": -1, "uri": "https://x"}}
    assert _code(lambda: _issue(status=bad)) == "invalid_request"
    not_json = {"status_list": {"idx": 1, "uri": "https://x"}, "other": {1, 2}}
    assert _code(lambda: _issue(status=not_json)) == "invalid_request"
    assert _code(lambda: _issue(claims={"when": object()}, disclosable=None)) == "invalid_request"


def test_header_and_payload_layout() -> None:
    """dc+sd-jwt typ, kid, the registered claims in the clear, cnf.jwk and _sd_alg."""
    sd = _issue(kid="key-1", nbf=NOW, status={"status_list": {"idx": 3, "uri": "https://s/1"}})
    parsed = sdjwt.parse_sd_jwt(sd)
    assert parsed.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "key-1"}
    payload = parsed.payload
    assert payload["iss"] == ISS
    assert payload["vct"] == PID_VCT
    assert payload["nbf"] == NOW
    assert payload["cnf"] == {"jwk": HOLDER.public_key.to_jwk()}
    assert payload["status"]["status_list"]["idx"] == 3
    assert payload["_sd_alg"] == "sha-256"
    assert not set(_pid()) & set(payload)


class RecordingTrust:
    """An IssuerTrust that records what it was asked."""

    def __init__(self, key: PublicKey) -> None:
        self.key = key
        self.asked: list[tuple[str, str | None]] = []
        self.scopes: list[tuple[str, str | None, frozenset[str]]] = []

    def issuer_key(self, iss: str, kid: str | None, now: int) -> PublicKey:
        self.asked.append((iss, kid))
        return self.key

    def check_scope(self, iss: str, vct: str | None, claim_names: Set[str], now: int) -> None:
        self.scopes.append((iss, vct, frozenset(claim_names)))
        if "document_number" in claim_names:
            raise VerificationError("out_of_scope", "not accredited for document_number")


class RecordingStatus:
    """A StatusChecker that records the status claims it sees."""

    def __init__(self) -> None:
        self.seen: list[tuple[Mapping[str, Any], str]] = []

    def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
        self.seen.append((status, iss))


def test_trust_is_asked_for_key_and_scope() -> None:
    """The verifier resolves the key by (iss, kid) and checks scope on the disclosed names."""
    trust = RecordingTrust(ISSUER.public_key)
    _verify(_present(_issue(kid="k1"), ["given_name", "age_over_18"]), trust=trust)
    assert trust.asked == [(ISS, "k1")]
    assert trust.scopes == [(ISS, PID_VCT, frozenset({"given_name", "age_over_18"}))]
    presentation = _present(_issue(), ["document_number"])
    assert _code(lambda: _verify(presentation, trust=trust)) == "out_of_scope"


def test_static_issuer_pins_iss_when_asked() -> None:
    """A StaticIssuer with iss refuses credentials naming another issuer."""
    presentation = _present(_issue(), [])
    pinned = cred.StaticIssuer(ISSUER.public_key.to_jwk(), iss="https://other.example")
    assert _code(lambda: _verify(presentation, trust=pinned)) == "untrusted_issuer"
    wrong_key = cred.StaticIssuer(PrivateKey.generate("ES256").public_key)
    assert _code(lambda: _verify(presentation, trust=wrong_key)) == "invalid_signature"


def test_status_checker_sees_the_status_claim() -> None:
    """A status claim goes to the StatusChecker with the issuer; none, no call."""
    status = {"status_list": {"idx": 7, "uri": "https://s/1"}}
    checker = RecordingStatus()
    _verify(_present(_issue(status=status), []), status=checker)
    assert checker.seen == [(status, ISS)]
    _verify(_present(_issue(), []), status=checker)
    assert len(checker.seen) == 1


def test_unsafe_skip_status_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """UnsafeSkipStatus leaves a status claim unchecked, with a warning naming the issuer; a
    credential without a status claim logs nothing."""
    status = {"status_list": {"idx": 7, "uri": "https://s/1"}}
    with caplog.at_level("WARNING", logger="civicstack.credentials"):
        _verify(_present(_issue(), []), status=cred.UnsafeSkipStatus())
        assert caplog.records == []
        _verify(_present(_issue(status=status), []), status=cred.UnsafeSkipStatus())
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "UnsafeSkipStatus" in caplog.records[0].getMessage()
    assert ISS in caplog.records[0].getMessage()


def _forge(payload: dict[str, Any], disclosures: list[sdjwt.Disclosure], typ: str | None) -> str:
    jwt = sign_compact(ISSUER, json_dumps(payload), {} if typ is None else {"typ": typ})
    sd = jwt + "~" + "".join(d.encoded + "~" for d in disclosures)
    return sd + sdjwt.create_key_binding(HOLDER, sd, aud="shop", nonce="n-1", iat=NOW + 10)


def test_vc_rules_apply_to_dc_sd_jwt_only() -> None:
    """A disclosed vct breaks an SD-JWT VC, and a missing vct too; other typs are plain SD-JWTs."""
    vct = sdjwt.make_disclosure("c2FsdHNhbHRzYWx0c2FsdA", "vct", PID_VCT)
    payload = {"iss": ISS, "cnf": {"jwk": HOLDER.public_key.to_jwk()}, "_sd": [vct.digest]}
    for typ in ("dc+sd-jwt", "vc+sd-jwt"):
        assert _code(lambda typ=typ: _verify(_forge(payload, [vct], typ))) == "invalid_credential"
        no_vct = {k: v for k, v in payload.items() if k != "_sd"}
        assert _code(lambda typ=typ, p=no_vct: _verify(_forge(p, [], typ))) == "invalid_credential"
    plain = cred.UnsafeAcceptPlainSdJwt()
    assert _verify(_forge(payload, [vct], "example+sd-jwt"), plain_sd_jwt=plain).vct == PID_VCT


@pytest.mark.parametrize("typ", [None, "example+sd-jwt", "JWT", "sd-jwt", "DC+SD-JWT"])
def test_sd_jwt_vc_verifier_refuses_other_typs(typ: str | None) -> None:
    """Issue 9 item 11: an SD-JWT VC verifier refuses an issuer JWT typed neither dc+sd-jwt nor
    vc+sd-jwt (SD-JWT VC §3.2.1), ``invalid_credential``, through both front doors."""
    payload = {"iss": ISS, "vct": PID_VCT, "cnf": {"jwk": HOLDER.public_key.to_jwk()}}
    presentation = _forge(payload, [], typ)
    assert _code(lambda: _verify(presentation)) == "invalid_credential"
    public = ISSUER.public_key.to_jwk()
    with pytest.raises(VerificationError) as err:
        cred.verify(presentation, issuer_jwk=public, aud="shop", nonce="n-1", now=NOW + 20)
    assert err.value.code == "invalid_credential"
    for vc_typ in ("dc+sd-jwt", "vc+sd-jwt"):
        assert _verify(_forge(payload, [], vc_typ)).vct == PID_VCT


def test_unsafe_accept_plain_sd_jwt_is_explicit_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plain RFC 9901 SD-JWT passes only with UnsafeAcceptPlainSdJwt, with a warning; a JWT
    typed as another kind (kb+jwt) is refused even then."""
    payload = {"iss": ISS, "cnf": {"jwk": HOLDER.public_key.to_jwk()}, "age_over_18": True}
    plain = cred.UnsafeAcceptPlainSdJwt()
    with caplog.at_level("WARNING", logger="civicstack.credentials"):
        result = _verify(_forge(payload, [], None), plain_sd_jwt=plain)
    assert result.claims == {"age_over_18": True}
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "UnsafeAcceptPlainSdJwt" in caplog.records[0].getMessage()
    public = ISSUER.public_key.to_jwk()
    out = cred.verify(
        _forge(payload, [], "example+sd-jwt"), issuer_jwk=public, aud="shop", nonce="n-1",
        now=NOW + 20, plain_sd_jwt=plain,
    )  # fmt: skip
    assert out["age_over_18"] is True
    kb_typed = _forge(payload, [], "kb+jwt")
    assert _code(lambda: _verify(kb_typed, plain_sd_jwt=plain)) == "invalid_credential"


def test_key_binding_policy() -> None:
    """Without KB the presentation fails unless the verifier's policy says KB is not required."""
    bare = _issue()
    assert _code(lambda: _verify(bare)) == "key_binding_required"
    result = _verify(bare, key_binding=sdjwt.UnsafeNoKeyBinding())
    assert not result.key_bound
    assert result.holder is None
    assert result.claims == _pid()


def test_unsafe_no_key_binding_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Accepting a presentation without key binding through UnsafeNoKeyBinding logs a warning;
    a presentation with a KB-JWT still has it checked under that policy."""
    with caplog.at_level("WARNING", logger="civicstack.sdjwt._verify"):
        _verify(_issue(), key_binding=sdjwt.UnsafeNoKeyBinding())
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "UnsafeNoKeyBinding" in caplog.records[0].getMessage()
    stale = _present(_issue(), [], nonce="other")
    unsafe = sdjwt.UnsafeNoKeyBinding()
    assert _code(lambda: _verify(stale, key_binding=unsafe)) == "wrong_nonce"


def test_unbound_credential_cannot_be_presented_with_key_binding() -> None:
    """Without a cnf key there is nothing to bind a presentation to; the wallet says so."""
    unbound = _issue(holder=None)
    assert cred.inspect(unbound).holder is None
    assert _code(lambda: _present(unbound, [])) == "key_binding_failed"
    assert cred.inspect(_issue()).holder == HOLDER.public_key


@pytest.fixture
def status_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server serving whatever bodies the test puts in its dict."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/statuslist+jwt")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_public_verify_checks_status_over_http(status_server: tuple[str, dict[str, bytes]]) -> None:
    """verify() fetches the status list over HTTP: valid passes, revoked and unreachable fail."""
    base, bodies = status_server
    holder = generate_private_jwk("EdDSA")
    status_list = StatusList(64)
    sd = cred.issue_credential(
        ISSUER, iss=ISS, vct=PID_VCT, claims={"age_over_18": True},
        holder=PublicKey.from_jwk(holder), status=status_reference(f"{base}/s/1", 5), iat=NOW,
    )  # fmt: skip
    p = cred.present(sd, disclose=["age_over_18"], holder_jwk=holder, aud="a", nonce="n", now=NOW)
    issuer = ISSUER.public_key.to_jwk()

    def publish() -> None:
        token = sign_status_list_token(ISSUER, status_list, uri=f"{base}/s/1", iat=NOW)
        bodies["/s/1"] = token.encode()

    publish()
    assert cred.verify(p, issuer_jwk=issuer, aud="a", nonce="n", now=NOW)["age_over_18"] is True
    status_list[5] = 1
    publish()
    assert (
        _code(lambda: cred.verify(p, issuer_jwk=issuer, aud="a", nonce="n", now=NOW)) == "revoked"
    )
    del bodies["/s/1"]
    assert _code(lambda: cred.verify(p, issuer_jwk=issuer, aud="a", nonce="n", now=NOW)) == (
        "status_unavailable"
    )


def _truncated() -> str:
    whole = _present(_issue(), ["given_name"])
    return whole[: len(whole) // 2]


def _jws_without_json() -> str:
    return sign_compact(ISSUER, b"not json", {"typ": "dc+sd-jwt"}) + "~"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: "", "malformed"),
        (lambda: "plain text", "malformed"),
        (_truncated, "malformed"),
        (lambda: "~~~~", "malformed"),
        (_jws_without_json, "malformed"),
        (lambda: "A" * (1 << 20), "too_large"),
        (lambda: '{"payload": 1}', "malformed"),
        (lambda: 7, "malformed"),
    ],
    ids=["empty", "plain text", "truncated", "separators only", "payload not JSON", "1 MiB junk",
         "JSON without a JWS", "not a string"],
)  # fmt: skip
def test_every_refusal_is_a_verification_error(build: Any, code: str) -> None:
    """Issue 9 item 9: ``except VerificationError`` catches every refusal of a presentation,
    unreadable ones too, with their codes kept; they still are InputErrors for old callers."""
    public = ISSUER.public_key.to_jwk()
    with pytest.raises(VerificationError) as err:
        cred.verify(build(), issuer_jwk=public, aud="shop", nonce="n-1", now=NOW + 20)
    assert err.value.code == code
    assert isinstance(err.value, InputError)
    with pytest.raises(VerificationError) as err:
        _verify(build())
    assert err.value.code == code


def test_public_verify_builds_its_status_checker_once() -> None:
    """verify() resolves its default HTTP status checker on first use and reuses it."""
    p = cred.present(
        cred.issue(ISSUER_JWK, iss=ISS, vct=PID_VCT, claims={"age_over_18": True},
                   holder_jwk=HOLDER_JWK, now=NOW),
        disclose=["age_over_18"], holder_jwk=HOLDER_JWK, aud="a", nonce="n", now=NOW,
    )  # fmt: skip
    issuer = PublicKey.from_jwk(ISSUER_JWK).to_jwk()
    cred.verify(p, issuer_jwk=issuer, aud="a", nonce="n", now=NOW)
    first = cred._status_checker()
    cred.verify(p, issuer_jwk=issuer, aud="a", nonce="n", now=NOW)
    assert cred._status_checker() is first


def test_public_verify_uses_the_status_checker_an_adapter_sets() -> None:
    """set_default_status_checker replaces the HTTP default until it is set back to None."""
    seen: list[Mapping[str, Any]] = []

    class Recording:
        def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
            seen.append(status)

    reference = status_reference("https://status.example/1", 3)
    sd = cred.issue_credential(
        ISSUER, iss=ISS, vct=PID_VCT, claims={"age_over_18": True},
        holder=PublicKey.from_jwk(HOLDER_JWK), status=reference, iat=NOW,
    )  # fmt: skip
    p = cred.present(sd, disclose=["age_over_18"], holder_jwk=HOLDER_JWK, aud="a", nonce="n",
                     now=NOW)  # fmt: skip
    cred.set_default_status_checker(Recording())
    try:
        cred.verify(p, issuer_jwk=ISSUER.public_key.to_jwk(), aud="a", nonce="n", now=NOW)
    finally:
        cred.set_default_status_checker(None)
    assert seen == [reference]


def test_the_core_does_not_load_the_http_adapter() -> None:
    """Importing the credential recipes loads neither civicstack.fetch nor httpx."""
    code = (
        "import sys, civicstack.credentials, civicstack.sdjwt, civicstack.status; "
        "print(sorted(m for m in ('httpx', 'civicstack.fetch') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_verify_accepts_a_private_or_decorated_issuer_jwk() -> None:
    """An issuer JWK with private or extra members verifies like its bare public part."""
    p = cred.present(
        cred.issue(ISSUER_JWK, iss=ISS, vct=PID_VCT, claims={"age_over_18": True},
                   holder_jwk=HOLDER_JWK, now=NOW),
        disclose=["age_over_18"], holder_jwk=HOLDER_JWK, aud="a", nonce="n", now=NOW,
    )  # fmt: skip
    public = PublicKey.from_jwk(ISSUER_JWK).to_jwk()
    for jwk in (ISSUER_JWK, public, {**public, "kid": "k1", "use": "sig"}):
        assert cred.verify(p, issuer_jwk=jwk, aud="a", nonce="n", now=NOW)["age_over_18"]
    stranger = generate_private_jwk("ES256")
    assert _code(lambda: cred.verify(p, issuer_jwk=stranger, aud="a", nonce="n", now=NOW)) == (
        "invalid_signature"
    )
