"""Batch issuance for unlinkable presentations, over HTTP on SQLite and PostgreSQL: the wallet
receives copies of one credential, each bound to a key of its own (OpenID4VCI 1.0 §8.2), shows
each relying party a different copy, and the issuer's revocation reaches every copy."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.openid4vci.offers import UnsafeAllowHttp
from civicstack.status import INVALID, VALID, verify_status_list_token
from civicstack.trust.parties import DAY
from civicstack.wallet import UnsafeReuseCopies, Wallet
from civicstack.wallet import openid4vp as wallet_vp
from civicstack.wallet.openid4vci import IssuanceClient, Issued
from tests.api.conftest import AMARA, FAST_KDF, ClientTransport, World


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digests(node: Any) -> set[str]:
    """Every digest an issuer-signed payload carries (``_sd`` and ``...`` array entries)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "_sd":
                out.update(value)
            elif name == "...":
                out.add(value)
            else:
                out |= _digests(value)
    elif isinstance(node, list):
        for item in node:
            out |= _digests(item)
    return out


def _parts(presentation: str) -> dict[str, Any]:
    """What a relying party holds of an SD-JWT+KB, read by hand (RFC 9901 §4)."""
    jwt, *disclosures, _kb = presentation.split("~")
    _header, payload_b64, signature = jwt.split(".")
    payload = json.loads(_b64(payload_b64))
    decoded = [json.loads(_b64(d)) for d in disclosures]
    return {
        "payload": payload,
        "keys": {json.dumps(payload["cnf"]["jwk"], sort_keys=True)},
        "salts": {d[0] for d in decoded},
        "digests": _digests(payload)
        | {
            base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode()
            for d in disclosures
        },
        "signatures": {signature},
        "status": {json.dumps(payload["status"]["status_list"], sort_keys=True)},
    }


def _receive(world: World, wallet: Wallet, copies: int) -> tuple[Any, Any]:
    """The OpenID4VCI flow over HTTP with ``copies`` fresh keys; the stored credential."""
    r = world.client.post(
        "/issuers/passport-office/admin/offers",
        json={"vct": PID_VCT, "claims": AMARA},
        headers=world.admin,
    )
    assert r.status_code == 201, r.text
    offer = r.json()
    client = IssuanceClient(ClientTransport(world.client), http=UnsafeAllowHttp())
    prepared = client.discover(client.resolve(offer["offer"]))
    key_ids = wallet.new_copy_keys(min(copies, prepared.issuer.batch_size))
    _, outcome = client.receive(
        prepared,
        tx_code=offer["tx_code"],
        sign=lambda aud, nonce: wallet.sign_key_proofs(key_ids, audience=aud, nonce=nonce),
    )
    assert isinstance(outcome, Issued)
    assert len(outcome.credentials) == copies
    stored = wallet.add_copies(outcome.credentials, trust=world.platform.trust_registry())
    return stored, outcome


def _present(
    world: World,
    wallet: Wallet,
    relying_party: str,
    reuse: UnsafeReuseCopies | None = None,
    preset: str = "identity",
) -> Any:
    """Answer a ``preset`` request of ``relying_party`` over OpenID4VP; the answer."""
    created = world.request(preset, relying_party=relying_party)
    registry = world.platform.trust_registry()
    transport = ClientTransport(world.client)
    received = wallet_vp.receive(
        created["request"], transport=transport, registry=registry, now=world.clock.now()
    )
    answer = wallet_vp.answer(
        wallet,
        received,
        registry=registry,
        consent=lambda _: True,
        transport=transport,
        reuse=reuse,
    )
    assert answer.status == 200, answer.body
    assert world.result(created["id"])["status"] == "verified"
    return answer


def test_two_relying_parties_share_no_key_salt_digest_signature_or_status_index(
    world: World, tmp_path: Any
) -> None:
    """The landlord and the bank are each shown a copy of Amara's PID: the SD-JWT parts they
    receive have no holder key, salt, digest, issuer signature or status index in common, and
    the iat (a day boundary) and exp are the same for every copy."""
    wallet = Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=world.clock)
    stored, _ = _receive(world, wallet, copies=3)
    assert len(stored.copies) == 3
    landlord = _present(world, wallet, "landlord").presentation.tokens["pid"]
    bank = _present(world, wallet, "bank").presentation.tokens["pid"]
    a, b = _parts(landlord), _parts(bank)
    for part in ("keys", "salts", "digests", "signatures", "status"):
        assert a[part], part
        assert not a[part] & b[part], part
    for payload in (a["payload"], b["payload"]):
        assert payload["iat"] % DAY == 0
        assert "jti" not in payload
        assert "nbf" not in payload
    assert a["payload"]["iat"] == b["payload"]["iat"]
    assert a["payload"]["exp"] == b["payload"]["exp"]
    # the landlord, asking again, is shown the copy it already saw
    again = _parts(_present(world, wallet, "landlord").presentation.tokens["pid"])
    assert again["keys"] == a["keys"]
    assert again["signatures"] == a["signatures"]
    # the history says which copy went to which relying party
    shown = [(r.aud, r.items[0].copy) for r in wallet.history() if r.outcome == "presented"]
    assert shown[0][1] != shown[1][1]
    assert shown[2] == shown[0]
    assert shown[0][0].endswith("/verifiers/landlord")


def test_revoking_the_credential_revokes_every_copy(world: World, tmp_path: Any) -> None:
    """The issuer records a batch under one credential id; revoking it sets every copy's own
    status-list entry to INVALID, and a verifier then refuses any copy."""
    wallet = Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=world.clock)
    _, outcome = _receive(world, wallet, copies=3)
    authorities = world.platform.authorities
    (record,) = [r for r in authorities.credentials("passport-office") if r.copies == 3]
    hosted = authorities.get("passport-office")

    def entries() -> list[int]:
        out = []
        for credential in outcome.credentials:
            reference = _parts(credential)["payload"]["status"]["status_list"]
            list_id = reference["uri"].rsplit("/", 1)[1]
            token = authorities.status_list_token("passport-office", list_id)
            verified = verify_status_list_token(
                token,
                hosted.active_key.public_key,
                uri=reference["uri"],
                now=world.clock.now(),
                iss=hosted.identifier,
            )
            out.append(verified.status_list[reference["idx"]])
        return out

    assert entries() == [VALID] * 3
    assert authorities.revoke_credential(record.id).state == "revoked"
    assert entries() == [INVALID] * 3
    created = world.request("identity", relying_party="bank")
    registry = world.platform.trust_registry()
    transport = ClientTransport(world.client)
    received = wallet_vp.receive(
        created["request"], transport=transport, registry=registry, now=world.clock.now()
    )
    wallet_vp.answer(
        wallet, received, registry=registry, consent=lambda _: True, transport=transport
    )
    # The verifier refuses the revoked copy: a failed attempt, the request left open (issue 9 #7).
    outcome = world.result(created["id"])
    assert outcome["status"] == "pending"
    assert [attempt["code"] for attempt in outcome["attempts"]] == ["revoked"]


def test_the_wallet_warns_when_copies_run_low_and_refuses_when_none_remain(
    world: World, tmp_path: Any
) -> None:
    """With two copies, the first relying party leaves one (a warning), the second none (a
    warning); a third is refused with no_unused_copy, and served only when reuse is allowed."""
    wallet = Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=world.clock)
    _receive(world, wallet, copies=2)
    first = _present(world, wallet, "landlord").presentation.low_copies
    assert [w.message for w in first] == ["1 copy left; ask the issuer for a new offer"]
    second = _present(world, wallet, "bank").presentation.low_copies
    assert [w.message for w in second] == ["0 copies left; ask the issuer for a new offer"]
    with pytest.raises(CivicError) as refused:
        _present(world, wallet, "shop", preset="age_over_18")
    assert refused.value.code == "no_unused_copy"
    assert wallet.history()[-1].error == "no_unused_copy"
    reused = _present(world, wallet, "shop", UnsafeReuseCopies(), preset="age_over_18")
    assert reused.presentation.record.items[0].copy in (0, 1)
