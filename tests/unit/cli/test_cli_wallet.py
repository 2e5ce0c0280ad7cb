"""``civic wallet``: init, key, add, list, show, present with consent, history, sign."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.cli import _local
from civicstack.credential_types import PID_VCT
from civicstack.credentials import issue_credential
from civicstack.wallet import Wallet
from tests.unit.cli.conftest import AMARA, FAST_KDF, PASSPHRASE, SHOP, Civic


def _present(civic: Civic, *extra: str, nonce: str = "n-1") -> list[str]:
    return [
        "wallet",
        "present",
        "--rp",
        SHOP,
        "--purpose",
        "age_check",
        "--nonce",
        nonce,
        *extra,
    ]


def test_init_creates_a_wallet_with_a_public_key_only(civic: Civic) -> None:
    """init prints the holder's public key; a second init is refused."""
    out = civic("wallet", "init", "--alg", "EdDSA", "--json")
    assert out.code == 0, out.err
    data = out.json()
    assert data["alg"] == "EdDSA"
    assert "d" not in data["jwk"]
    assert (civic.data_dir / "wallet" / "wallet.json").exists()
    civic.fails("wallet_exists", "wallet", "init")
    civic.fails("unsupported_algorithm", "wallet", "init", "--alg", "HS256")


def test_init_prompts_twice_for_the_passphrase(
    civic: Civic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without CIVIC_WALLET_PASSPHRASE, at a terminal, the passphrase is asked, hidden, and
    confirmed."""
    monkeypatch.setattr(_local, "interactive", lambda: True)  # the runner's stdin is a pipe
    out = civic("wallet", "init", "--json", input="s3cret\ns3cret\n", CIVIC_WALLET_PASSPHRASE=None)
    assert out.code == 0, out.err
    assert "s3cret" not in out.out + out.err
    Wallet.open(civic.data_dir / "wallet", "s3cret")


def test_mismatched_or_missing_passphrase(civic: Civic, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a passphrase and no terminal to ask at, or with a confirmation that never
    matches, the command fails with one coded line."""
    civic.fails("invalid_request", "wallet", "list", input="", CIVIC_WALLET_PASSPHRASE=None)
    monkeypatch.setattr(_local, "interactive", lambda: True)
    civic.fails(
        "invalid_request", "wallet", "init", input="one\ntwo\n", CIVIC_WALLET_PASSPHRASE=None
    )


def test_missing_wallet_and_wrong_passphrase(civic: Civic) -> None:
    """Every wallet command needs the wallet, opened with its passphrase."""
    for command in (["list"], ["key"], ["history"], ["show", "abc"]):
        civic.fails("no_wallet", "wallet", *command)
    Wallet.create(civic.data_dir / "wallet", PASSPHRASE, kdf=FAST_KDF)
    civic.fails("wrong_passphrase", "wallet", "list", CIVIC_WALLET_PASSPHRASE="not it")


def test_key_is_the_holder_key(civic: Civic, wallet: Callable[[], Wallet]) -> None:
    """key prints the public JWK the wallet's credentials are bound to."""
    data = civic("wallet", "key", "--json").json()
    assert data["kid"] == wallet().holder_key.thumbprint()
    assert "d" not in data["jwk"]


def test_issue_into_the_wallet_then_list_and_show(holding: Civic) -> None:
    """A PID issued --to-wallet is listed, and show reveals its claims to the holder."""
    (listed,) = holding("wallet", "list", "--json").json()
    assert listed["vct"] == PID_VCT
    assert listed["iss"] == "http://civic.test/issuers/passport-office"
    shown = holding("wallet", "show", listed["id"], "--json").json()
    assert shown["claims"]["given_name"] == "Amara"
    assert shown["claims"]["age_over_18"] is True
    assert "age_over_18" in shown["disclosable"]
    human = holding("wallet", "show", listed["id"])
    assert "Amara" in human.out
    holding.fails("not_found", "wallet", "show", "nosuchid")
    holding.fails("malformed", "wallet", "show", "../../etc/passwd")


def test_add_checks_binding_and_issuer(world: Civic, wallet: Callable[[], Wallet]) -> None:
    """add stores a credential for this wallet's key from a trusted issuer, from stdin or a
    file, and refuses the rest each with its code."""
    issued = world(
        "authority",
        "issue",
        "--issuer",
        "passport-office",
        "--vct",
        PID_VCT,
        "--claims",
        json.dumps(AMARA),
        "--holder-jwk",
        json.dumps(wallet().holder_key.to_jwk()),
    )
    credential = issued.out.strip()
    assert world("wallet", "add", "-", "--json", input=credential + "\n").code == 0
    world.fails("conflict", "wallet", "add", credential)
    path = world.data_dir / "cred.txt"
    path.write_text(credential)
    world.fails("conflict", "wallet", "add", f"@{path}")
    world.fails("invalid_request", "wallet", "add", "@/no/such/file")
    world.fails("malformed", "wallet", "add", "not a credential")
    other = world(
        "authority",
        "issue",
        "--issuer",
        "passport-office",
        "--vct",
        PID_VCT,
        "--claims",
        json.dumps(AMARA),
        "--holder-jwk",
        json.dumps(PrivateKey.generate().public_key.to_jwk()),
    )
    world.fails("invalid_credential", "wallet", "add", other.out.strip())
    rogue = issue_credential(
        PrivateKey.generate(),
        iss="http://civic.test/issuers/passport-office",
        vct=PID_VCT,
        claims=AMARA,
        holder=wallet().holder_key,
        iat=1_767_225_600,
    )
    world.fails("invalid_signature", "wallet", "add", rogue)
    assert len(wallet().credentials()) == 1


def test_present_asks_with_the_full_picture(
    holding: Civic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consent prompt names the relying party, its registrar and purpose, and exactly the
    claims and values that leave; only the presentation goes to stdout."""
    monkeypatch.setattr(_local, "interactive", lambda: True)  # the runner's stdin is a pipe
    out = holding(*_present(holding, "--vct", PID_VCT, "--disclose", "age_over_18"), input="y\n")
    assert out.code == 0, out.err
    for shown in ("Corner Shop", SHOP, "HM Government", "age_check", "Sell you alcohol"):
        assert shown in out.err
    assert "age_over_18" in out.err
    assert "Okafor" not in out.err
    assert "1990-05-17" not in out.err
    # click's test runner echoes the typed answer to stdout (a terminal would show it on the
    # tty): the presentation is the one line after it.
    *_, token = out.out.split()
    assert token.count("~") >= 2
    verified = holding("verify", token, "--aud", SHOP, "--nonce", "n-1", "--json")
    assert verified.json()["claims"] == {"age_over_18": True}


def test_declining_sends_nothing_and_is_remembered(
    holding: Civic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answering no (or nothing) at the terminal declines: no presentation, a 'declined'
    history entry."""
    monkeypatch.setattr(_local, "interactive", lambda: True)  # the runner's stdin is a pipe
    out = holding.fails(
        "consent_declined",
        *_present(holding, "--vct", PID_VCT, "--disclose", "age_over_18"),
        input="n\n",
    )
    assert "~" not in out.out  # only the runner's echo of "n", no presentation
    holding.fails(
        "consent_declined",
        *_present(holding, "--vct", PID_VCT, "--disclose", "age_over_18"),
        input="",
    )
    history = holding("wallet", "history", "--json").json()
    assert [h["outcome"] for h in history] == ["declined", "declined"]


def test_present_refusals(holding: Civic) -> None:
    """Overasking, unknown relying parties, missing credentials and bad requests each fail
    with their code, before the holder is asked."""
    out = holding.fails(
        "overasking",
        *_present(holding, "--vct", PID_VCT, "--disclose", "age_over_18,birthdate"),
        "--yes",
    )
    assert "Share" not in out.err
    holding.fails(
        "unregistered_relying_party",
        "wallet",
        "present",
        "--rp",
        "https://nobody.example",
        "--purpose",
        "age_check",
        "--nonce",
        "n",
        "--vct",
        PID_VCT,
        "--disclose",
        "age_over_18",
        "--yes",
    )
    holding.fails(
        "overasking",
        *_present(holding, "--claims", '{"urn:civicstack:right-to-work:1": ["right_to_work"]}'),
        "--yes",
    )
    holding.fails("malformed", *_present(holding, "--claims", "{nope"), "--yes")
    holding.fails("malformed", *_present(holding, "--claims", '{"a": "b"}'), "--yes")
    holding.fails("invalid_request", *_present(holding), "--yes")
    disclose = ["--vct", PID_VCT, "--disclose", "age_over_18", "--yes"]
    holding.fails("malformed", *_present(holding, *disclose, nonce="has space"))
    holding.fails(
        "malformed",
        "wallet",
        "present",
        "--rp",
        "not an id",
        "--purpose",
        "p",
        "--nonce",
        "n",
        *disclose,
    )
    holding.fails("malformed", *_present(holding, "--vct", PID_VCT, "--disclose", "a..b", "--yes"))
    holding.fails(
        "invalid_request",
        *_present(holding, "--claims", "{}", "--vct", PID_VCT, "--disclose", "x"),
        "--yes",
    )
    history = holding("wallet", "history", "--json").json()
    assert [(h["outcome"], h["error"]) for h in history] == [
        ("refused", "overasking"),
        ("refused", "unregistered_relying_party"),
        ("refused", "overasking"),
    ]


def test_nothing_to_present(world: Civic, wallet: Callable[[], Wallet]) -> None:
    """An allowed request the wallet holds no credential for is no_matching_credential."""
    world.fails(
        "no_matching_credential",
        *_present(world, "--vct", PID_VCT, "--disclose", "age_over_18"),
        "--yes",
    )


def test_present_with_claims_json_and_history(holding: Civic) -> None:
    """--claims names what to share per credential type; history records it."""
    out = holding(
        *_present(holding, "--claims", json.dumps({PID_VCT: ["age_over_18"]})), "--yes", "--json"
    )
    assert out.code == 0, out.err
    assert set(out.json()["presentations"]) == {PID_VCT}
    (entry,) = holding("wallet", "history", "--json").json()
    assert entry["outcome"] == "presented"
    assert entry["relying_party_name"] == "Corner Shop"
    assert entry["claims"] == {PID_VCT: {"age_over_18": True}}
    assert "Corner Shop" in holding("wallet", "history").out


def test_sign_and_verify_a_document(
    civic: Civic, wallet: Callable[[], Wallet], tmp_path: Path
) -> None:
    """A signed document verifies with the holder key, and not once changed or with another key."""
    doc = tmp_path / "tenancy.pdf"
    doc.write_bytes(b"%PDF-1.7 tenancy agreement")
    signed = civic("wallet", "sign", str(doc), "--json").json()
    assert signed["kid"] == wallet().holder_key.thumbprint()
    sig = signed["signature"]
    ok = civic("wallet", "verify-signature", str(doc), "--signature", sig, "--json")
    assert ok.json()["kid"] == signed["kid"]
    jwk = json.dumps(signed["jwk"])
    by_jwk = civic("wallet", "verify-signature", str(doc), "--signature", sig, "--jwk", jwk)
    assert by_jwk.code == 0
    assert "valid signature" in by_jwk.out
    assert civic("wallet", "sign", "-", input="from stdin").out.count(".") == 2
    doc.write_bytes(b"%PDF-1.7 tenancy agreement (changed)")
    civic.fails("invalid_signature", "wallet", "verify-signature", str(doc), "--signature", sig)
    other = json.dumps(PrivateKey.generate().public_key.to_jwk())
    verify_args = ["wallet", "verify-signature", str(doc), "--signature", sig]
    civic.fails("invalid_signature", *verify_args, "--jwk", other)
    civic.fails("malformed", "wallet", "verify-signature", str(doc), "--signature", "garbage")
    civic.fails("invalid_request", "wallet", "sign", str(tmp_path / "missing.pdf"))
    civic.fails(
        "malformed", "wallet", "verify-signature", str(doc), "--signature", sig, "--jwk", "[1]"
    )


def test_remove(holding: Civic) -> None:
    """remove deletes a credential; removing it again is not_found."""
    (listed,) = holding("wallet", "list", "--json").json()
    assert holding("wallet", "remove", listed["id"]).code == 0
    assert holding("wallet", "list", "--json").json() == []
    assert "no credentials" in holding("wallet", "list").out
    holding.fails("not_found", "wallet", "remove", listed["id"])
