"""C2SP signed-note: the spec's example and golang.org/x/mod/sumdb/note's known answers."""

from __future__ import annotations

import base64

import pytest

from civicstack._crypto import PrivateKey, b64url_encode
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.log import NoteSigner, NoteVerifier, open_note, parse_note, sign_note

EM = "\u2014"
# golang.org/x/mod/sumdb/note note_test.go and its package example.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)
# c2sp.org/signed-note's example key and note.
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3m"
    "FXmRKuwHjG1Yu72IneyaQM=\n"
)
# c2sp.org/signed-note's opening example: the text holds an empty line of its own.
QUASIMODO = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    f"{EM} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMo"
    "uFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def _go_key(vkey: str, seed: bytes) -> PrivateKey:
    public = base64.b64decode(vkey.split("+", 2)[2])[1:]
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public), "d": b64url_encode(seed)}
    return PrivateKey.from_jwk(jwk)


PETER = _go_key(PETER_VKEY, base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:])
# The Go example derives EnochRoot's key from an all-zero seed.
ENOCH = _go_key(ENOCH_VKEY, bytes(32))


def test_signing_reproduces_the_go_known_answer() -> None:
    """Signing Go's example text with Peter's key yields Go's note byte for byte."""
    assert sign_note(TEXT, [NoteSigner("PeterNeumann", PETER)]) == TEXT + "\n" + PETER_SIG


def test_two_signers_reproduce_the_go_multi_signature_note() -> None:
    """Peter's and Enoch's signatures come out in order, as in Go's example."""
    signers = [NoteSigner("PeterNeumann", PETER), NoteSigner("EnochRoot", ENOCH)]
    assert sign_note(TEXT, signers) == TEXT + "\n" + PETER_SIG + ENOCH_SIG


def test_verifier_keys_round_trip_and_match_their_key_ids() -> None:
    """Known verifier keys parse, re-encode identically and derive from the signing key."""
    for vkey in (PETER_VKEY, ENOCH_VKEY, FOO_VKEY):
        assert NoteVerifier.parse(vkey).vkey == vkey
    assert NoteSigner("PeterNeumann", PETER).verifier.vkey == PETER_VKEY
    assert NoteSigner("EnochRoot", ENOCH).verifier.vkey == ENOCH_VKEY


def test_the_spec_example_note_verifies() -> None:
    """c2sp.org/signed-note's example note opens with its verifier key."""
    opened = open_note(FOO_NOTE, [NoteVerifier.parse(FOO_VKEY)])
    assert opened.text == "This is an example message.\n"
    assert [v.vkey for v in opened.verified_by] == [FOO_VKEY]


def test_the_last_empty_line_separates_text_from_signatures() -> None:
    """A text with an empty line of its own keeps it: the last blank line is the separator."""
    note = parse_note(QUASIMODO)
    assert note.text.endswith("\n\ned è subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert str(note) == QUASIMODO


def test_unknown_signatures_are_ignored_and_one_known_suffices() -> None:
    """With only Enoch trusted, Peter's signature is skipped and Enoch's verifies the note."""
    opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [NoteVerifier.parse(ENOCH_VKEY)])
    assert [v.name for v in opened.verified_by] == ["EnochRoot"]


def test_a_note_without_a_trusted_signature_is_rejected() -> None:
    """No signature from a trusted key means untrusted_note, even if others are valid."""
    with pytest.raises(VerificationError) as err:
        open_note(TEXT + "\n" + PETER_SIG, [NoteVerifier.parse(ENOCH_VKEY)])
    assert err.value.code == "untrusted_note"


def test_same_name_other_key_id_is_treated_as_unknown() -> None:
    """A signature sharing the name (not the ID) of a trusted key is ignored, not failed."""
    other = NoteSigner("PeterNeumann", PrivateKey.generate("EdDSA"))
    note = sign_note(TEXT, [other, NoteSigner("PeterNeumann", PETER)])
    opened = open_note(note, [NoteVerifier.parse(PETER_VKEY)])
    assert opened.verified_by[0].vkey == PETER_VKEY


def test_a_bad_signature_from_a_trusted_key_rejects_the_whole_note() -> None:
    """A trusted key's failing signature rejects the note even if another trusted one verifies."""
    tampered = TEXT.replace("problem,", "problem;")
    note = tampered + "\n" + PETER_SIG + ENOCH_SIG
    fresh = sign_note(tampered, [NoteSigner("EnochRoot", ENOCH)])
    with pytest.raises(VerificationError) as err:
        open_note(note, [NoteVerifier.parse(PETER_VKEY), NoteVerifier.parse(ENOCH_VKEY)])
    assert err.value.code == "invalid_signature"
    with pytest.raises(VerificationError):
        open_note(fresh.replace("\n\n", "\n\n" + PETER_SIG), [NoteVerifier.parse(PETER_VKEY)])


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no blank line\n" + PETER_SIG,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG.rstrip("\n"),
        TEXT + "\n" + PETER_SIG.replace(EM, "-"),
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann ", "Peter+Neumann "),
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann ", "Peter\u00a0Neumann "),
        TEXT + "\n" + PETER_SIG.replace("x08go", "x08g_"),
        TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),
        TEXT + "\n" + f"{EM} PeterNeumann AAAA\n",
        TEXT.replace("problem,", "problem,\t") + "\n" + PETER_SIG,
        "\n\n" + PETER_SIG,
        TEXT + "\n" + PETER_SIG * 101,
        "x" * 300_000,
    ],
    ids=[
        "empty",
        "no-separator",
        "no-signatures",
        "unterminated",
        "hyphen-not-em-dash",
        "plus-in-name",
        "nbsp-in-name",
        "not-base64",
        "non-canonical-base64",
        "too-short-signature",
        "control-character",
        "empty-text",
        "too-many-signatures",
        "too-large",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    """Every malformed note fails parsing with a stable code, never an exception of another kind."""
    with pytest.raises(InputError) as err:
        parse_note(note)
    assert err.value.code in {"invalid_note", "too_large"}


def test_invalid_utf8_is_refused() -> None:
    """Bytes that are not UTF-8 are refused as invalid_note."""
    with pytest.raises(InputError) as err:
        parse_note(b"\xff\n\n" + PETER_SIG.encode())
    assert err.value.code == "invalid_note"


@pytest.mark.parametrize(
    "vkey",
    [
        PETER_VKEY.replace("c74f20a3", "c74f20a4"),
        PETER_VKEY.replace("c74f20a3", "c74f20a"),
        PETER_VKEY.replace("+ARpc", "+Apc"),
        PETER_VKEY.replace("+ARpc", "+Alpc"),
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "x" * 2000,
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    """A wrong key ID, a non-Ed25519 type, or a mangled key is refused as invalid_key."""
    with pytest.raises(InputError) as err:
        NoteVerifier.parse(vkey)
    assert err.value.code == "invalid_key"


def test_signers_need_ed25519_keys_and_valid_names() -> None:
    """P-256 keys and names with '+' or spaces cannot sign notes."""
    with pytest.raises(CivicError) as err:
        NoteSigner("ok", PrivateKey.generate("ES256"))
    assert err.value.code == "invalid_key"
    for name in ("", "a+b", "a b"):
        with pytest.raises(CivicError):
            NoteSigner(name, PETER)
    with pytest.raises(CivicError):
        sign_note("no newline", [NoteSigner("x", PETER)])
