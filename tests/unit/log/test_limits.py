"""The log recipes' caps are one :class:`civicstack.log.Limits` value; a lowered one is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import InputError
from civicstack.log import (
    DEFAULT_LIMITS,
    Checkpoint,
    Limits,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
)
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore

KEY = PrivateKey.generate("EdDSA")
SIGNER = NoteSigner("example.com/log", KEY)
VERIFIER = NoteVerifier.from_public_key("example.com/log", KEY.public_key)


def _note(extensions: int = 0) -> str:
    lines = tuple(f"ext {i}" for i in range(extensions))
    return sign_checkpoint(Checkpoint("example.com/log", 1, bytes(32), lines), [SIGNER])


def test_defaults_are_documented_values() -> None:
    assert DEFAULT_LIMITS.note_bytes == 256 * 1024
    assert DEFAULT_LIMITS.signatures == 100
    assert DEFAULT_LIMITS.extension_lines == 16


def test_a_lowered_note_size_is_refused_with_too_large() -> None:
    note = _note()
    parse_note(note)
    with pytest.raises(InputError) as refused:
        parse_note(note, limits=Limits(note_bytes=len(note) - 1))
    assert refused.value.code == "too_large"


def test_lowered_extension_lines_are_refused() -> None:
    note = _note(extensions=3)
    assert open_checkpoint(note, [VERIFIER]).extensions == ("ext 0", "ext 1", "ext 2")
    with pytest.raises(InputError) as refused:
        open_checkpoint(note, [VERIFIER], limits=Limits(extension_lines=2))
    assert refused.value.code == "invalid_note"


def test_a_lowered_key_name_is_refused() -> None:
    with pytest.raises(InputError) as refused:
        parse_note(_note(), limits=Limits(key_name=4))
    assert refused.value.code == "invalid_note"


def test_the_store_keeps_its_append_and_read_limits(tmp_path: Path) -> None:
    """A store with lowered limits refuses a larger append or read with too_large."""
    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    upgrade(engine)
    store = LogStore(engine, limits=Limits(append_entries=2, read_entries=2))
    store.create_log("t", SIGNER)
    store.append("t", [b"a", b"b"], SIGNER)
    with pytest.raises(InputError) as appended:
        store.append("t", [b"c", b"d", b"e"], SIGNER)
    assert appended.value.code == "too_large"
    with pytest.raises(InputError) as read:
        store.entries("t", 0, 3)
    assert read.value.code == "too_large"
    assert store.entries("t", 0, 2) == [b"a", b"b"]
    store.close()
    engine.dispose()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limits(signatures=0)
