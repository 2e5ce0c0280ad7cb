"""``civic authority`` and ``civic verify``: setting up, issuing, revoking, verifying."""

from __future__ import annotations

import json
from collections.abc import Callable

from civicstack._crypto import PrivateKey, generate_private_jwk
from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.credentials import present_credential
from civicstack.status import verify_status_list_token
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet import Wallet
from tests.unit.cli.conftest import AMARA, BASE, SHOP, Civic

RTW = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "right_to_work": True,
    "share_code": "W4X9KL2PQ",
}


def _issue(
    civic: Civic, holder: PrivateKey, *extra: str, claims: dict[str, object] = AMARA
) -> dict[str, object]:
    out = civic(
        "authority",
        "issue",
        "--issuer",
        "passport-office",
        "--vct",
        PID_VCT,
        "--claims",
        json.dumps(claims),
        "--holder-jwk",
        json.dumps(holder.public_key.to_jwk()),
        "--json",
        *extra,
    )
    assert out.code == 0, out.err
    data: dict[str, object] = out.json()
    return data


def _present(credential: str, holder: PrivateKey, nonce: str = "n-1") -> str:
    return present_credential(
        credential, disclose=["age_over_18"], holder=holder, aud=SHOP, nonce=nonce, now=_now()
    )


def _now() -> int:
    import time

    return int(time.time())


def test_setting_up_the_trust_framework(civic: Civic) -> None:
    """init, accredit, register: each prints what it signed; list shows everyone's standing."""
    root = civic("authority", "init", "--display-name", "HM Government", "--json").json()
    assert root["identifier"] == f"{BASE}/trust/root"
    assert root["role"] == "root"
    acc = civic(
        "authority", "accredit", "passport-office", "--vct", PID_VCT, "--may-accredit", "--json"
    ).json()
    assert acc["authority"] == f"{BASE}/issuers/passport-office"
    assert "age_over_18" in acc["scope"][PID_VCT]
    assert acc["may_accredit"] is True
    sub = civic(
        "authority",
        "accredit",
        "leeds",
        "--by",
        "passport-office",
        "--scope",
        json.dumps({PID_VCT: ["given_name", "family_name"]}),
        "--json",
    ).json()
    assert sub["accreditor"] == acc["authority"]
    assert sub["exp"] <= acc["exp"]
    reg = civic(
        "authority",
        "register",
        "shop",
        "--display-name",
        "Corner Shop",
        "--purpose",
        "age_check",
        "--description",
        "Sell you alcohol",
        "--claims",
        json.dumps({PID_VCT: ["age_over_18"]}),
        "--json",
    ).json()
    assert reg["relying_party"] == SHOP
    assert reg["purposes"][0]["claims"] == {PID_VCT: ["age_over_18"]}
    many = civic(
        "authority",
        "register",
        "employer",
        "--purposes",
        json.dumps(
            [
                {
                    "id": "hire",
                    "description": "Hire you",
                    "claims": {RIGHT_TO_WORK_VCT: ["right_to_work"]},
                },
                {"id": "pay", "description": "Pay you", "claims": {PID_VCT: ["given_name"]}},
            ]
        ),
        "--json",
    ).json()
    assert [p["id"] for p in many["purposes"]] == ["hire", "pay"]
    listed = {p["name"]: p["standing"] for p in civic("authority", "list", "--json").json()}
    assert listed == {
        "root": "trust anchor",
        "passport-office": "accredited",
        "leeds": "accredited",
        "shop": "registered",
        "employer": "registered",
    }
    assert "Corner Shop" in civic("authority", "list").out
    export = civic("authority", "export", "--json").json()
    registry = TrustRegistry.from_json(
        json.dumps(export["statements"]), [RootAuthority.from_json(r) for r in export["roots"]]
    )
    assert len(registry.statements()) == 4


def test_setup_refusals(civic: Civic) -> None:
    """Each bad setup request fails with its own code and changes nothing."""
    civic.fails("no_root_authority", "authority", "accredit", "x", "--vct", PID_VCT)
    civic.fails("unsupported_algorithm", "authority", "init", "--alg", "RS256")
    civic.fails("invalid_request", "authority", "init", "--name", "Not A Slug")
    assert civic("authority", "init").code == 0
    civic.fails("conflict", "authority", "init")
    civic.fails("invalid_request", "authority", "accredit", "x", "--vct", "urn:unknown")
    civic.fails("invalid_request", "authority", "accredit", "x")
    civic.fails("malformed", "authority", "accredit", "x", "--scope", "{not json")
    civic.fails("malformed", "authority", "accredit", "x", "--scope", "[1, 2]")
    civic.fails("malformed", "authority", "accredit", "x", "--scope", '{"v": "not a list"}')
    civic.fails("malformed", "authority", "accredit", "x", "--scope", '{"v": [1], "v": [2]}')
    civic.fails("invalid_request", "authority", "accredit", "Bad_Name", "--vct", PID_VCT)
    civic.fails(
        "unknown_authority", "authority", "accredit", "x", "--vct", PID_VCT, "--by", "nobody"
    )
    civic.fails("invalid_request", "authority", "accredit", "x", "--vct", PID_VCT, "--days", "0")
    civic.fails("malformed", "authority", "accredit", "x", "--vct", PID_VCT, "--id", "not a url")
    assert civic("authority", "accredit", "hmpo", "--vct", PID_VCT).code == 0
    civic.fails("out_of_scope", "authority", "accredit", "sub", "--vct", PID_VCT, "--by", "hmpo")
    civic.fails("invalid_request", "authority", "register", "shop")
    civic.fails("invalid_request", "authority", "register", "shop", "--purpose", "p")
    civic.fails("invalid_request", "authority", "register", "shop", "--claims", "{}")
    civic.fails("malformed", "authority", "register", "shop", "--purposes", '{"id": "p"}')
    civic.fails("malformed", "authority", "register", "shop", "--purposes", '[{"id": "p"}]')
    civic.fails(
        "malformed", "authority", "register", "shop", "--purpose", "p", "--claims", '{"v": "x"}'
    )
    civic.fails(
        "invalid_request",
        "authority",
        "register",
        "hmpo",
        "--purpose",
        "p",
        "--claims",
        json.dumps({PID_VCT: ["a"]}),
    )
    civic.fails(
        "out_of_scope",
        "authority",
        "register",
        "shop",
        "--by",
        "hmpo",
        "--purpose",
        "p",
        "--claims",
        json.dumps({PID_VCT: ["given_name"]}),
    )
    civic.fails("unknown_authority", "authority", "suspend", "nobody")
    civic.fails("invalid_request", "authority", "suspend", "hmpo")
    civic.fails("unknown_authority", "authority", "revoke-accreditation", "nobody")
    civic.fails("unknown_authority", "authority", "credentials", "--issuer", "nobody")
    names = [p["name"] for p in civic("authority", "list", "--json").json()]
    assert names == ["root", "hmpo"]


def test_issue_verify_revoke_verify(world: Civic) -> None:
    """The new user's loop: issue, present, verify (valid), revoke, verify (revoked)."""
    holder = PrivateKey.generate()
    issued = _issue(world, holder)
    assert issued["state"] == "valid"
    assert issued["status"] == {
        "status_list": {"idx": issued["idx"], "uri": f"{BASE}/issuers/passport-office/status/1"}
    }
    credential = str(issued["credential"])
    presentation = _present(credential, holder)
    ok = world("verify", presentation, "--aud", SHOP, "--nonce", "n-1", "--json").json()
    assert ok["claims"] == {"age_over_18": True}
    assert ok["issuer_name"] == "HMPO"
    assert ok["status"] == "valid"
    assert ok["key_bound"] is True
    human = world("verify", "-", "--aud", SHOP, "--nonce", "n-1", input=presentation)
    assert "verified" in human.out
    assert "HMPO" in human.out
    revoked = world("authority", "revoke", str(issued["id"]), "--json").json()
    assert revoked["state"] == "revoked"
    world.fails("revoked", "verify", presentation, "--aud", SHOP, "--nonce", "n-1")
    listed = world("authority", "credentials", "--issuer", "passport-office", "--json").json()
    assert [(c["id"], c["state"]) for c in listed] == [(issued["id"], "revoked")]
    assert "Amara" not in json.dumps(listed)


def test_suspend_and_reinstate_a_credential(world: Civic) -> None:
    """--suspend makes verification fail with suspended; --reinstate makes it pass again;
    revoked is final."""
    holder = PrivateKey.generate()
    issued = _issue(world, holder)
    presentation = _present(str(issued["credential"]), holder)
    cid = str(issued["id"])
    assert world("authority", "revoke", cid, "--suspend").code == 0
    world.fails("suspended", "verify", presentation, "--aud", SHOP, "--nonce", "n-1")
    assert world("authority", "revoke", cid, "--reinstate").code == 0
    assert world("verify", presentation, "--aud", SHOP, "--nonce", "n-1").code == 0
    assert "is revoked" in world("authority", "revoke", cid).out
    world.fails("conflict", "authority", "revoke", cid, "--reinstate")
    world.fails("invalid_request", "authority", "revoke", cid, "--suspend", "--reinstate")
    world.fails("not_found", "authority", "revoke", "AAAAAAAAAAAAAAAAAAAAAA")
    world.fails("invalid_request", "authority", "revoke", "../../x")


def test_issue_refusals(world: Civic, wallet: Callable[[], Wallet]) -> None:
    """Bad claims, unknown issuers, unbound or wrongly bound holders: each its code."""
    holder = json.dumps(PrivateKey.generate().public_key.to_jwk())
    base = ["authority", "issue", "--vct", PID_VCT]
    claims = json.dumps(AMARA)
    world.fails(
        "unknown_authority", *base, "--issuer", "nobody", "--claims", claims, "--holder-jwk", holder
    )
    world.fails(
        "malformed",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        "{bad",
        "--holder-jwk",
        holder,
    )
    world.fails(
        "malformed", *base, "--issuer", "passport-office", "--claims", "[1]", "--holder-jwk", holder
    )
    world.fails("invalid_request", *base, "--issuer", "passport-office", "--claims", claims)
    world.fails(
        "invalid_request",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        claims,
        "--holder-jwk",
        holder,
        "--to-wallet",
    )
    world.fails(
        "invalid_key",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        claims,
        "--holder-jwk",
        json.dumps(generate_private_jwk()),
    )
    world.fails(
        "invalid_key",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        claims,
        "--holder-jwk",
        "{}",
    )
    world.fails(
        "out_of_scope",
        "authority",
        "issue",
        "--issuer",
        "home-office",
        "--vct",
        PID_VCT,
        "--claims",
        claims,
        "--holder-jwk",
        holder,
    )
    world.fails(
        "invalid_credential",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        '{"given_name": "A"}',
        "--holder-jwk",
        holder,
    )
    world.fails(
        "invalid_request",
        "authority",
        "issue",
        "--issuer",
        "shop",
        "--vct",
        PID_VCT,
        "--claims",
        claims,
        "--holder-jwk",
        holder,
    )
    world.fails(
        "too_large",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        "-",
        "--holder-jwk",
        holder,
        input=" " * (70 * 1024),
    )
    world.fails(
        "wrong_passphrase",
        *base,
        "--issuer",
        "passport-office",
        "--claims",
        claims,
        "--to-wallet",
        CIVIC_WALLET_PASSPHRASE="wrong",
    )
    assert world("authority", "credentials", "--json").json() == []


def test_issue_to_stdout_and_from_a_file(world: Civic) -> None:
    """Without --json the credential alone is printed; --claims reads @FILE."""
    path = world.data_dir / "claims.json"
    path.write_text(json.dumps(RTW))
    out = world(
        "authority",
        "issue",
        "--issuer",
        "home-office",
        "--vct",
        RIGHT_TO_WORK_VCT,
        "--claims",
        f"@{path}",
        "--holder-jwk",
        json.dumps(PrivateKey.generate().public_key.to_jwk()),
    )
    assert out.code == 0, out.err
    assert out.out.strip().endswith("~")
    assert out.out.count("\n") == 1


def test_relying_party_suspension_reaches_the_wallet(holding: Civic) -> None:
    """A suspended shop is refused by the wallet; reinstated, it may ask again."""
    present = [
        "wallet",
        "present",
        "--rp",
        SHOP,
        "--purpose",
        "age_check",
        "--nonce",
        "n",
        "--vct",
        PID_VCT,
        "--disclose",
        "age_over_18",
        "--yes",
    ]
    assert holding("authority", "suspend", "shop", "--reason", "sold to minors").code == 0
    holding.fails("relying_party_suspended", *present)
    assert holding("authority", "suspend", "shop", "--reinstate").code == 0
    assert holding(*present).code == 0


def test_withdrawn_accreditation_is_refused(world: Civic) -> None:
    """After revoke-accreditation, the authority's credentials fail with accreditation_revoked."""
    holder = PrivateKey.generate()
    issued = _issue(world, holder)
    presentation = _present(str(issued["credential"]), holder)
    out = world(
        "authority", "revoke-accreditation", "passport-office", "--reason", "closed", "--json"
    )
    assert len(out.json()) == 1
    world.fails("accreditation_revoked", "verify", presentation, "--aud", SHOP, "--nonce", "n-1")
    world.fails("not_found", "authority", "revoke-accreditation", "passport-office")
    standing = {p["name"]: p["standing"] for p in world("authority", "list", "--json").json()}
    assert standing["passport-office"] == "accreditation_revoked"


def test_status_list_is_published_signed(world: Civic) -> None:
    """status-list prints the statuslist+jwt that verifies with the issuer's key."""
    holder = PrivateKey.generate()
    issued = _issue(world, holder)
    out = world("authority", "status-list", "passport-office", "--json").json()
    hosted = world.platform().authorities.get("passport-office")
    token = verify_status_list_token(
        out["token"],
        hosted.active_key.public_key,
        uri=out["uri"],
        now=_now(),
        iss=hosted.identifier,
    )
    assert token.status_list[int(str(issued["idx"]))] == 0
    world.fails("not_found", "authority", "status-list", "passport-office", "--list", "2")
    world.fails("unknown_authority", "authority", "status-list", "nobody")


def test_verify_refusals(world: Civic) -> None:
    """Tampered, replayed-elsewhere or malformed presentations each fail with their code."""
    holder = PrivateKey.generate()
    issued = _issue(world, holder)
    presentation = _present(str(issued["credential"]), holder)
    verify = ["verify", "--aud", SHOP, "--nonce", "n-1"]
    _header, payload, signature = presentation.split("~", 1)[0].split(".")
    middle = len(signature) // 2
    bad = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    tampered = presentation.replace(f"{payload}.{signature}", f"{payload}.{bad}", 1)
    world.fails("invalid_signature", *verify, tampered)
    world.fails("wrong_nonce", "verify", presentation, "--aud", SHOP, "--nonce", "other")
    world.fails(
        "wrong_audience", "verify", presentation, "--aud", "https://else.example", "--nonce", "n-1"
    )
    world.fails("malformed", *verify, "not-a-presentation")
    world.fails("too_large", *verify, "-", input="a" * (300 * 1024))
    world.fails("invalid_request", *verify, "@/no/such/file")
    world.fails("key_binding_required", *verify, str(issued["credential"]))
    # Another holder's key-binding JWT on Amara's credential: not signed by its cnf key.
    other = PrivateKey.generate()
    theirs = present_credential(
        str(_issue(world, other)["credential"]),
        disclose=["age_over_18"],
        holder=other,
        aud=SHOP,
        nonce="n-1",
        now=_now(),
    )
    forged = presentation[: presentation.rindex("~") + 1] + theirs.rsplit("~", 1)[1]
    world.fails("key_binding_failed", *verify, forged)


def test_no_root_yet(civic: Civic) -> None:
    """Verifying before any root exists is no_root_authority, not a crash."""
    civic.fails("no_root_authority", "verify", "a.b.c~", "--aud", SHOP, "--nonce", "n")


def test_unreachable_database_is_one_line(civic: Civic) -> None:
    """A database that cannot be reached is database_error, without a traceback."""
    civic.fails(
        "database_error",
        "authority",
        "list",
        CIVIC_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
