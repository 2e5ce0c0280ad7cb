"""C2SP tlog-checkpoint and tlog-proof: the specs' examples, round trips and bad inputs."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.log import (
    Checkpoint,
    MemoryTiles,
    NoteSigner,
    Receipt,
    open_checkpoint,
    parse_note,
    prove_inclusion,
    root_at,
    sign_checkpoint,
    verify_receipt,
)

EM = "\u2014"
# c2sp.org/tlog-checkpoint's example.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    f"{EM} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
# c2sp.org/tlog-proof's example, up to its checkpoint (whose signatures the spec elides).
SPEC_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
)
SPEC_PROOF_CHECKPOINT = (
    "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n"
    f"{EM} example.com/fancylog hI2DJw[...]1roloI=\n"
    f"{EM} witness1.example mJirIklj[...]qY9v2B/5bg==\n"
)

KEY = PrivateKey.generate("EdDSA")
SIGNER = NoteSigner("example.com/log", KEY)


def _log(n: int) -> tuple[MemoryTiles, list[bytes]]:
    entries = [b"entry %d" % i for i in range(n)]
    tiles = MemoryTiles()
    tiles.append(0, entries)
    return tiles, entries


def test_the_spec_checkpoint_parses() -> None:
    """tlog-checkpoint's example reads as origin, size and a 32-byte root."""
    cp = Checkpoint.parse(parse_note(SPEC_CHECKPOINT).text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.text() == parse_note(SPEC_CHECKPOINT).text


def test_the_spec_checkpoint_is_untrusted_without_its_key() -> None:
    """The example checkpoint opened with another key is untrusted, not accepted."""
    with pytest.raises(VerificationError) as err:
        open_checkpoint(SPEC_CHECKPOINT, [SIGNER.verifier])
    assert err.value.code == "untrusted_note"


def test_checkpoints_round_trip_with_extensions() -> None:
    """A signed checkpoint opens to the same values, extension lines included."""
    cp = Checkpoint("example.com/log", 42, b"\x07" * 32, ("ext one",))
    note = sign_checkpoint(cp, [SIGNER])
    assert note.startswith(
        "example.com/log\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\next one\n\n"
    )
    assert open_checkpoint(note, [SIGNER.verifier], origin="example.com/log") == cp


def test_a_checkpoint_of_another_log_is_refused() -> None:
    """Expecting one origin and getting another fails with origin_mismatch."""
    note = sign_checkpoint(Checkpoint("example.com/log", 1, b"\x00" * 32), [SIGNER])
    with pytest.raises(VerificationError) as err:
        open_checkpoint(note, [SIGNER.verifier], origin="example.com/other")
    assert err.value.code == "origin_mismatch"


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",
        "origin\n012\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1e3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAA\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nextension after empty\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" + "\nx" * 17 + "\n",
    ],
    ids=[
        "two-lines",
        "leading-zero",
        "negative",
        "exponent",
        "size-overflow",
        "short-root",
        "non-canonical-root",
        "empty-origin",
        "empty-extension",
        "too-many-extensions",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    """Each malformed checkpoint text fails with invalid_note."""
    with pytest.raises(InputError) as err:
        Checkpoint.parse(text)
    assert err.value.code == "invalid_note"


def test_the_spec_proof_bundle_parses_once_its_checkpoint_is_signed() -> None:
    """tlog-proof's example: extra, index and five hashes read back; the checkpoint is verbatim."""
    cp = Checkpoint.parse(
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    )
    signer = NoteSigner("example.com/fancylog", KEY)
    note = sign_checkpoint(cp, [signer])
    receipt = Receipt.parse(SPEC_PROOF_HEAD + "\n" + note)
    assert receipt.index == 73894
    assert len(receipt.proof) == 5
    assert receipt.extra is not None
    assert receipt.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert receipt.checkpoint == note
    assert receipt.text() == SPEC_PROOF_HEAD + "\n" + note
    # The spec's hashes are for an entry we do not have: the proof cannot verify for ours.
    with pytest.raises(VerificationError) as err:
        verify_receipt(receipt, [signer.verifier], entry=b"something else")
    assert err.value.code == "inclusion_proof_invalid"


def test_the_spec_proof_bundle_with_elided_signatures_is_refused() -> None:
    """The example as printed (signatures cut with "[...]") is not a valid note."""
    with pytest.raises(InputError) as err:
        Receipt.parse(SPEC_PROOF_HEAD + "\n" + SPEC_PROOF_CHECKPOINT)
    assert err.value.code == "invalid_note"


def test_receipts_verify_for_their_entry_and_only_it() -> None:
    """A receipt proves its entry at the checkpoint; another entry or index fails."""
    tiles, entries = _log(1000)
    cp = Checkpoint("example.com/log", 1000, root_at(1000, tiles))
    note = sign_checkpoint(cp, [SIGNER])
    receipt = Receipt(617, tuple(prove_inclusion(617, 1000, tiles)), note, entries[617])
    text = receipt.text()
    verified = verify_receipt(text, [SIGNER.verifier], origin="example.com/log")
    assert (verified.index, verified.entry, verified.checkpoint) == (617, entries[617], cp)
    assert verify_receipt(text, [SIGNER.verifier], entry=entries[617]).index == 617
    for bad in (
        lambda: verify_receipt(text, [SIGNER.verifier], entry=entries[618]),
        lambda: verify_receipt(text.replace("index 617", "index 616"), [SIGNER.verifier]),
    ):
        with pytest.raises(VerificationError) as err:
            bad()
        assert err.value.code == "inclusion_proof_invalid"
    with pytest.raises(VerificationError) as err:
        verify_receipt(text.replace("index 617", "index 1000"), [SIGNER.verifier])
    assert err.value.code == "proof_out_of_range"
    other = NoteSigner("example.com/log", PrivateKey.generate("EdDSA"))
    with pytest.raises(VerificationError) as err:
        verify_receipt(text, [other.verifier])
    assert err.value.code == "untrusted_note"


def test_a_receipt_without_entry_or_extra_needs_the_entry() -> None:
    """Without extra data and without an entry there is nothing to prove: invalid_request."""
    tiles, entries = _log(3)
    note = sign_checkpoint(Checkpoint("example.com/log", 3, root_at(3, tiles)), [SIGNER])
    receipt = Receipt(1, tuple(prove_inclusion(1, 3, tiles)), note)
    assert "extra" not in receipt.text()
    with pytest.raises(CivicError) as err:
        verify_receipt(receipt.text(), [SIGNER.verifier])
    assert err.value.code == "invalid_request"
    assert verify_receipt(receipt.text(), [SIGNER.verifier], entry=entries[1]).index == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        lambda t: t.replace("index 1", "index 01"),
        lambda t: t.replace("index 1", "idx 1"),
        lambda t: t.replace("\n\n", "\n"),
        lambda t: t.replace("extra ", "extra =", 1),
        lambda t: t.replace("extra ZW50cnkgMQ==", "extra "),
        lambda t: t.replace("index 1\n", "index 1\nAAAA\n"),
        lambda t: t.replace(
            "index 1\n", "index 1\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 65
        ),
        lambda t: t.encode("utf-8").replace(b"index", b"\xffndex"),
        lambda t: t + "x" * 600_000,
    ],
    ids=[
        "wrong-version",
        "leading-zero-index",
        "no-index",
        "no-blank-line",
        "bad-extra",
        "empty-extra",
        "short-hash",
        "too-many-hashes",
        "not-utf8",
        "too-large",
    ],
)
def test_malformed_receipts_are_refused(mangle: Callable[[str], str | bytes]) -> None:
    """Each mangled receipt fails to parse with a stable code."""
    tiles, entries = _log(3)
    note = sign_checkpoint(Checkpoint("example.com/log", 3, root_at(3, tiles)), [SIGNER])
    text = Receipt(1, tuple(prove_inclusion(1, 3, tiles)), note, entries[1]).text()
    assert "extra ZW50cnkgMQ==" in text
    with pytest.raises(InputError) as err:
        Receipt.parse(mangle(text))
    assert err.value.code in {"invalid_note", "too_large"}
