"""C2SP tlog-cosignature (cosignature/v1, Ed25519): key IDs, the signed message, policies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from civicstack._crypto import MERKLE_EMPTY_ROOT, PrivateKey
from civicstack.errors import CivicError
from civicstack.log import (
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    NoteSigner,
    WitnessPolicy,
    open_witnessed_checkpoint,
    parse_note,
    sign_checkpoint,
)
from civicstack.log.cosignature import add_cosignatures, cosigned_message, verify_cosignatures

VECTORS = json.loads((Path(__file__).parent / "cosignature_vectors.json").read_text())
LOG = NoteSigner("example.com/log", PrivateKey.generate("EdDSA"))
W1 = Cosigner("witness.example/w1", PrivateKey.generate("EdDSA"))
W2 = Cosigner("witness.example/w2", PrivateKey.generate("EdDSA"))
CHECKPOINT = Checkpoint("example.com/log", 3, MERKLE_EMPTY_ROOT[::-1])
NOTE = sign_checkpoint(CHECKPOINT, [LOG])
TEXT = CHECKPOINT.text()


def cosigned(*cosigners: Cosigner, at: int = 1_700_000_000) -> str:
    return add_cosignatures(NOTE, [c.cosign(TEXT, at) for c in cosigners])


@pytest.mark.parametrize("case", VECTORS["vkeys"], ids=lambda c: c["vkey"][:40])
def test_witness_vkeys_from_transparency_dev(case: dict[str, object]) -> None:
    """A cosigner vkey parses only with signature type 0x04 and the key ID SHA-256 gives."""
    vkey = str(case["vkey"])
    if case["valid"]:
        assert CosignatureVerifier.parse(vkey).vkey == vkey
    else:
        with pytest.raises(CivicError) as err:
            CosignatureVerifier.parse(vkey)
        assert err.value.code == "invalid_key"


@pytest.mark.parametrize("case", VECTORS["timestamps"])
def test_the_timestamp_is_the_first_eight_bytes_big_endian(case: dict[str, object]) -> None:
    """The timestamped_signature begins with the u64 POSIX time (RFC 8446 §3.3 order)."""
    raw = base64.b64decode(str(case["signature"]))
    assert int.from_bytes(raw[4:12], "big") == case["timestamp"]


def test_the_signed_message_is_header_time_and_note_text() -> None:
    """ "cosignature/v1", "time N", then the checkpoint text with its final newline."""
    assert cosigned_message(TEXT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + TEXT.encode()
    )


def test_cosign_and_verify_round_trip_with_the_log_signature_kept() -> None:
    """A cosigned checkpoint verifies for the log's key and for the witnesses' quorum."""
    got = open_witnessed_checkpoint(
        cosigned(W1, W2), [LOG.verifier], WitnessPolicy((W1.verifier, W2.verifier), 2)
    )
    assert got.checkpoint == CHECKPOINT
    assert sorted(c.witness.name for c in got.cosignatures) == [W1.name, W2.name]
    assert {c.timestamp for c in got.cosignatures} == {1_700_000_000}


def test_a_witness_key_id_differs_from_the_same_key_as_a_note_signer() -> None:
    """Type 0x04 in the key ID: the same key and name as a log key (0x01) never match."""
    key = PrivateKey.generate("EdDSA")
    assert Cosigner("k", key).verifier.key_id != NoteSigner("k", key).verifier.key_id


def test_quorum_not_met_is_refused() -> None:
    """One cosignature where two are required: witness_quorum_not_met."""
    policy = WitnessPolicy((W1.verifier, W2.verifier), 2)
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(cosigned(W1), [LOG.verifier], policy)
    assert err.value.code == "witness_quorum_not_met"
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(NOTE, [LOG.verifier], policy)
    assert err.value.code == "witness_quorum_not_met"


def test_cosignatures_of_unknown_witnesses_are_ignored_and_count_for_nothing() -> None:
    """Another witness's line neither fails nor counts toward the quorum."""
    policy = WitnessPolicy((W1.verifier,), 1)
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(cosigned(W2), [LOG.verifier], policy)
    assert err.value.code == "witness_quorum_not_met"


def test_a_bad_cosignature_from_a_trusted_witness_refuses_the_note() -> None:
    """A trusted witness's line over another text, or with a flipped byte: invalid_cosignature."""
    other = Checkpoint("example.com/log", 4, MERKLE_EMPTY_ROOT)
    forged = add_cosignatures(NOTE, [W1.cosign(other.text(), 5)])
    policy = WitnessPolicy((W1.verifier,), 1)
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(forged, [LOG.verifier], policy)
    assert err.value.code == "invalid_cosignature"
    sig = W1.cosign(TEXT, 5)
    flipped = type(sig)(sig.name, sig.key_id, sig.signature[:-1] + bytes([sig.signature[-1] ^ 1]))
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(add_cosignatures(NOTE, [flipped]), [LOG.verifier], policy)
    assert err.value.code == "invalid_cosignature"
    # The timestamp is signed: changing it breaks the signature.
    shifted = type(sig)(sig.name, sig.key_id, (6).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(CivicError) as err:
        open_witnessed_checkpoint(add_cosignatures(NOTE, [shifted]), [LOG.verifier], policy)
    assert err.value.code == "invalid_cosignature"


def test_extension_lines_are_covered() -> None:
    """The cosignature covers the whole note text, extension lines included."""
    ext = Checkpoint("example.com/log", 3, CHECKPOINT.root, ("extra",))
    sig = W1.cosign(ext.text(), 9)
    note = parse_note(add_cosignatures(NOTE, [sig]))
    with pytest.raises(CivicError) as err:
        verify_cosignatures(note, WitnessPolicy((W1.verifier,), 1))
    assert err.value.code == "invalid_cosignature"


def test_a_cosignature_from_the_future_is_refused_when_now_is_given() -> None:
    """Verifiers MAY reject cosignatures with future timestamps; we do, past a 5-minute skew."""
    note = parse_note(cosigned(W1, at=10_000))
    policy = WitnessPolicy((W1.verifier,), 1)
    assert verify_cosignatures(note, policy, now=10_000 - 300)
    with pytest.raises(CivicError) as err:
        verify_cosignatures(note, policy, now=10_000 - 301)
    assert err.value.code == "invalid_cosignature"


def test_a_witness_never_cosigns_at_time_zero() -> None:
    """tlog-witness: the cosignature MUST NOT omit the timestamp."""
    with pytest.raises(CivicError):
        W1.cosign(TEXT, 0)


def test_policies_refuse_impossible_quorums_and_duplicate_keys() -> None:
    """A quorum above the number of witnesses, or one key listed twice, is refused."""
    with pytest.raises(CivicError):
        WitnessPolicy((W1.verifier,), 2)
    same_key = CosignatureVerifier.from_public_key("other-name", W1.verifier.public_key)
    with pytest.raises(CivicError):
        WitnessPolicy((W1.verifier, same_key), 1)
    assert WitnessPolicy.of([W1.verifier.vkey, W2.verifier.vkey]).quorum == 2
