"""C2SP tlog-witness rules: what a witness cosigns and every refusal, with its durable state
(:class:`civicstack.stores.witness.WitnessDirectory`) in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from civicstack._crypto import MERKLE_EMPTY_ROOT, PrivateKey
from civicstack.errors import CivicError
from civicstack.log import (
    Checkpoint,
    Cosigner,
    MemoryTiles,
    NoteSigner,
    WitnessPolicy,
    open_witnessed_checkpoint,
    parse_note,
    prove_consistency,
    root_at,
    sign_checkpoint,
)
from civicstack.log.cosignature import add_cosignatures
from civicstack.log.witness import (
    SizeConflictError,
    Witness,
    WitnessedLog,
    add_checkpoint_body,
    max_body_bytes,
    origin_hash,
    parse_size_conflict,
    parse_witnesses,
    read_cosignatures,
)
from civicstack.stores.witness import WitnessDirectory
from civicstack.testing import FixedClock

ORIGIN = "example.com/witnessed"
LOG = NoteSigner(ORIGIN, PrivateKey.generate("EdDSA"))
ENTRIES = [f"entry {i}".encode() for i in range(40)]


def checkpoint(entries: Sequence[bytes], signer: NoteSigner = LOG) -> str:
    tiles = MemoryTiles()
    if entries:
        tiles.append(0, list(entries))
    cp = Checkpoint(signer.name, len(entries), root_at(len(entries), tiles))
    return sign_checkpoint(cp, [signer])


def proof(entries: Sequence[bytes], old: int) -> list[bytes]:
    tiles = MemoryTiles()
    tiles.append(0, list(entries))
    return prove_consistency(old, len(entries), tiles) if 0 < old < len(entries) else []


@pytest.fixture
def state(tmp_path: Path) -> Iterator[WitnessDirectory]:
    directory = WitnessDirectory(tmp_path / "witness")
    yield directory
    directory.close()


@pytest.fixture
def witness(state: WitnessDirectory) -> Witness:
    return Witness(
        state.cosigner("witness.example/w"),
        [WitnessedLog.of(LOG.verifier.vkey)],
        state,
        FixedClock(1_000),
    )


def submit(witness: Witness, entries: Sequence[bytes], old: int, note: str | None = None) -> str:
    return witness.add_checkpoint(
        add_checkpoint_body(old, proof(entries, old), note or checkpoint(entries))
    )


def refused(witness: Witness, body: bytes) -> CivicError:
    with pytest.raises(CivicError) as err:
        witness.add_checkpoint(body)
    return err.value


def test_cosigns_a_growing_log_and_the_cosignature_verifies(witness: Witness) -> None:
    """From nothing to 10 to 40 entries: each answer is a cosignature the client accepts."""
    for old, size in ((0, 10), (10, 40)):
        note = checkpoint(ENTRIES[:size])
        answer = submit(witness, ENTRIES[:size], old, note)
        text = parse_note(note).text
        line, when = read_cosignatures(answer.encode(), text, witness.cosigner.verifier)
        assert when == 1_000
        full = add_cosignatures(note, [line])
        policy = WitnessPolicy((witness.cosigner.verifier,), 1)
        assert open_witnessed_checkpoint(full, [LOG.verifier], policy).checkpoint.size == size
    served = witness.checkpoint(origin_hash(ORIGIN))
    assert served.startswith(f"{ORIGIN}\n40\n")
    assert served.count("\u2014 ") == 2  # the log's signature and the witness's


def test_a_stale_old_size_gets_409_with_the_known_size(witness: Witness) -> None:
    """The old size must be the witness's: otherwise 409 and the size it knows."""
    submit(witness, ENTRIES[:10], 0)
    err = refused(witness, add_checkpoint_body(0, [], checkpoint(ENTRIES[:20])))
    assert isinstance(err, SizeConflictError)
    assert (err.status, err.known_size) == (409, 10)
    assert parse_size_conflict(b"10\n") == 10


def test_a_fork_is_never_cosigned(witness: Witness) -> None:
    """A different tree of the cosigned size, or one that does not extend it: 422."""
    submit(witness, ENTRIES[:10], 0)
    forked = [*ENTRIES[:5], b"rewritten", *ENTRIES[6:20]]
    err = refused(witness, add_checkpoint_body(10, proof(forked, 10), checkpoint(forked)))
    assert (err.code, err.status) == ("checkpoint_inconsistent", 422)
    same_size = refused(witness, add_checkpoint_body(10, [], checkpoint(forked[:10])))
    assert same_size.code == "checkpoint_inconsistent"
    # A proof that is not a proof.
    bogus = refused(witness, add_checkpoint_body(10, [b"\x00" * 32], checkpoint(ENTRIES[:20])))
    assert bogus.code == "checkpoint_inconsistent"
    # The state did not move: the honest extension is still cosigned.
    assert submit(witness, ENTRIES[:20], 10).startswith("\u2014 witness.example/w ")


def test_rollbacks_and_bad_sizes(witness: Witness) -> None:
    """An old size above the checkpoint's is 400; a smaller tree than cosigned is 409."""
    submit(witness, ENTRIES[:10], 0)
    err = refused(witness, add_checkpoint_body(11, [], checkpoint(ENTRIES[:10])))
    assert (err.code, err.status) == ("invalid_request", 400)
    rolled = refused(witness, add_checkpoint_body(5, [], checkpoint(ENTRIES[:5])))
    assert isinstance(rolled, SizeConflictError)
    assert rolled.known_size == 10


def test_size_zero_rules(witness: Witness) -> None:
    """Size 0 has the empty root; a proof from old size 0 is refused."""
    empty = checkpoint([])
    assert submit(witness, [], 0, empty)
    wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, MERKLE_EMPTY_ROOT[::-1]), [LOG])
    assert refused(witness, add_checkpoint_body(0, [], wrong)).code == "checkpoint_inconsistent"
    with_proof = add_checkpoint_body(0, [b"\x01" * 32], checkpoint(ENTRIES[:4]))
    assert refused(witness, with_proof).code == "checkpoint_inconsistent"


def test_unknown_origins_and_bad_signatures(witness: Witness) -> None:
    """Unknown origin 404; no trusted signature, or a failing one, 403."""
    stranger = NoteSigner("example.com/other", PrivateKey.generate("EdDSA"))
    err = refused(witness, add_checkpoint_body(0, [], checkpoint(ENTRIES[:3], stranger)))
    assert (err.code, err.status) == ("unknown_origin", 404)
    impostor = NoteSigner(ORIGIN, PrivateKey.generate("EdDSA"))
    err = refused(witness, add_checkpoint_body(0, [], checkpoint(ENTRIES[:3], impostor)))
    assert (err.code, err.status) == ("checkpoint_unauthenticated", 403)
    good = checkpoint(ENTRIES[:3])
    text, sig = good.rsplit(" ", 1)
    flipped = text + " " + ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:]))
    err = refused(witness, add_checkpoint_body(0, [], flipped))
    assert (err.code, err.status) == ("checkpoint_unauthenticated", 403)


NOTE2 = checkpoint(ENTRIES[:2]).encode()
HASH = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 0\n",  # no blank line, no checkpoint
        b"old 00\n\n" + NOTE2,  # a leading zero
        b"old -1\n\n" + NOTE2,
        b"old  0\n\n" + NOTE2,
        b"new 0\n\n" + NOTE2,
        b"old 0\nnot base64\n\n" + NOTE2,
        b"old 0\nAAAA\n\n" + NOTE2,  # a 3-byte hash
        b"old 0\n\nnot a note",
        b"old 0\n\n\xff\xfe",
        b"old 0\n\n" + NOTE2.replace(b"\n2\n", b"\ntwo\n"),  # not a checkpoint
        b"old 0\n\n" + NOTE2.replace(b"\n", b"\r\n"),  # control characters
        b"old 0\n" + HASH * 64 + b"\n" + NOTE2,  # 64 proof lines
        b"old 18446744073709551616\n\n" + NOTE2,
    ],
)
def test_malformed_bodies_are_400(witness: Witness, body: bytes) -> None:
    """Each malformed body is refused with a 400 code and the state is untouched."""
    err = refused(witness, body)
    assert err.status == 400, err.code
    assert witness.state.latest(ORIGIN) is None


def test_an_oversize_body_is_413(witness: Witness) -> None:
    """A body over the cap is refused before it is parsed."""
    err = refused(witness, b"old 0\n\n" + b"x" * max_body_bytes())
    assert (err.code, err.status) == ("too_large", 413)


def test_the_state_survives_a_reopen_and_refuses_a_second_process(tmp_path: Path) -> None:
    """What was cosigned is read back; a directory in use is locked."""
    directory = WitnessDirectory(tmp_path / "w")
    w = Witness(
        directory.cosigner("w.example/w"),
        [WitnessedLog.of(LOG.verifier.vkey)],
        directory,
        FixedClock(5),
    )
    submit(w, ENTRIES[:7], 0)
    with pytest.raises(CivicError) as err:
        WitnessDirectory(tmp_path / "w")
    assert err.value.code == "witness_state_locked"
    directory.close()
    again = WitnessDirectory(tmp_path / "w")
    head = again.latest(ORIGIN)
    assert head is not None
    assert head.size == 7
    assert again.cosigner(None).verifier == w.cosigner.verifier
    with pytest.raises(CivicError):
        again.cosigner("another-name")
    again.close()


def test_a_damaged_state_file_stops_the_witness(tmp_path: Path) -> None:
    """A state that does not parse, or disagrees with its checkpoint, is never ignored."""
    directory = WitnessDirectory(tmp_path / "w")
    w = Witness(
        directory.cosigner("w.example/w"),
        [WitnessedLog.of(LOG.verifier.vkey)],
        directory,
        FixedClock(5),
    )
    submit(w, ENTRIES[:7], 0)
    directory.close()
    state = tmp_path / "w" / "state.json"
    state.write_text(state.read_text().replace('"size": 7', '"size": 3'))
    with pytest.raises(CivicError) as err:
        WitnessDirectory(tmp_path / "w")
    assert err.value.code == "io_error"


def test_civic_witnesses_setting() -> None:
    """CIVIC_WITNESSES: <vkey>@<url> entries; anything else is invalid_setting."""
    w = Cosigner("witness.example/w1", PrivateKey.generate("EdDSA")).verifier
    w2 = Cosigner("witness.example/w2", PrivateKey.generate("EdDSA")).verifier
    got = parse_witnesses(f"{w.vkey}@https://w.example/w1/,\n{w2.vkey}@http://127.0.0.1:9/w")
    assert [e.verifier for e in got] == [w, w2]
    assert got[0].add_checkpoint_url == "https://w.example/w1/add-checkpoint"
    for bad in (
        w.vkey,
        f"{w.vkey}@ftp://x",
        f"{LOG.verifier.vkey}@http://x",
        f"{w.vkey}@http://a {w.vkey}@http://b",
    ):
        with pytest.raises(CivicError) as err:
            parse_witnesses(bad)
        assert err.value.code == "invalid_setting"


def test_settings_read_civic_witnesses(tmp_path: Path) -> None:
    """CIVIC_WITNESSES is checked when settings are read: a bad entry stops startup."""
    from civicstack.settings import Settings

    w = Cosigner("witness.example/w1", PrivateKey.generate("EdDSA")).verifier
    env = {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_WITNESSES": f"{w.vkey}@http://127.0.0.1:1"}
    assert Settings.from_env(env).witnesses == f"{w.vkey}@http://127.0.0.1:1"
    assert Settings.from_env({**env, "CIVIC_WITNESS_INTERVAL": "7"}).witness_interval == 7
    with pytest.raises(CivicError) as err:
        Settings.from_env({**env, "CIVIC_WITNESSES": "not-a-witness"})
    assert err.value.code == "invalid_setting"
