"""The wallet's directory: a sealed holder key and encrypted records, written atomically.

Layout (every file ``0600``, the directory ``0700``)::

    wallet.json                {"format": "civicstack-wallet", "v": 1,
                                "holder_key": <sealed private key>, "data_key": <sealed bytes>}
    meta/holder.rec            the holder key's thumbprint (binds the sealed key to the data key)
    meta/key-<id>.rec          a key of one credential copy (batch issuance), wrapped
    credentials/<id>.rec       one credential per file
    history/<seq>.rec          one presentation record per file, 1, 2, 3...
    history/head.rec           the number of records and the hash of the last one

The holder key is sealed under the passphrase (Argon2id, then AES-256-GCM:
:func:`civicstack._crypto.seal_private_key`); so is a random 256-bit data key
(:func:`civicstack._crypto.seal_bytes`), under which every record is encrypted with AES-256-GCM
(a fresh nonce each time). Each record's associated data names its kind and file name, so a
record cannot be moved to another slot unnoticed. Nothing personal is stored in clear: not the
credentials, not the history, not even the holder's public key (a correlation handle).

Each copy of a batch-issued credential is bound to a key of its own, so that relying parties
shown different copies see no common key (:mod:`civicstack.wallet.holder`). Those keys are
wrapped (AES-256-GCM, :func:`civicstack._crypto.wrap_private_key`) under the data key, itself
sealed under the passphrase like the holder key, inside a record that is encrypted again; like
the holder key, no code path exports them.

The history kept in ``history/`` is a hash chain: :mod:`civicstack.wallet.history`.

Writes go to a temporary file that is fsynced, then renamed (or linked) into place and the
directory fsynced: a crash leaves either the old state or the new, never a torn file.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from civicstack._crypto import (
    Alg,
    PrivateKey,
    aead_decrypt,
    aead_encrypt,
    json_dumps,
    json_object_strict,
    open_bytes,
    open_private_key,
    seal_bytes,
    seal_private_key,
    unwrap_private_key,
    wrap_private_key,
)
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits

FORMAT = "civicstack-wallet"
VERSION = 1
HEADER = "wallet.json"
_DATA_KEY_CONTEXT = "civicstack-wallet/v1/data-key"
_AAD_PREFIX = "civicstack-wallet/v1/"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEADER_BYTES = 16 * 1024  # a header holds two sealed keys: far less than this
_LOG = "history"
_META = "meta"
_HOLDER = "holder"
_COPY_KEY = "key-"

Rng = Callable[[int], bytes]


def _corrupted(detail: str) -> CivicError:
    return CivicError("wallet_corrupted", detail)


def _write_atomic(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``path`` durably; with ``replace=False`` fail if it exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and refuses to overwrite
    except FileExistsError:
        raise
    except OSError as exc:
        raise CivicError("io_error", f"cannot write {path.name}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CivicError("io_error", f"cannot read {path.name}: {exc.strerror}") from exc
    if len(data) > limit:
        raise _corrupted(f"{path.name} is larger than any wallet file")
    return data


def check_name(name: str) -> str:
    """A record name: 1-64 characters of ``[A-Za-z0-9_-]`` (it becomes a file name)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError("malformed", "a record id is 1-64 letters, digits, '-' or '_'")
    return name


class Vault:
    """An opened wallet directory: the holder key in memory, records encrypted on disk."""

    def __init__(
        self, path: Path, holder: PrivateKey, data_key: bytes, *, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.path = path
        self._holder = holder
        self._data_key = data_key
        self._limits = limits

    # --- lifecycle ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        alg: Alg = "ES256",
        kdf: dict[str, Any] | None = None,
        rng: Rng = os.urandom,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Vault:
        """Make a new wallet in ``path`` (created if needed) with a fresh holder key."""
        _check_passphrase(passphrase)
        root = Path(path)
        if (root / HEADER).exists():
            raise CivicError("wallet_exists", f"a wallet already exists in {root}")
        holder = PrivateKey.generate(alg)
        data_key = rng(32)
        if len(data_key) != 32:
            raise InputError("invalid_request", "rng must return the number of bytes asked for")
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for sub in ("credentials", _LOG, _META):
                (root / sub).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise CivicError("io_error", f"cannot create {root}: {exc.strerror}") from exc
        header = {
            "format": FORMAT,
            "v": VERSION,
            "holder_key": seal_private_key(holder, passphrase, kdf=kdf),
            "data_key": seal_bytes(data_key, passphrase, context=_DATA_KEY_CONTEXT, kdf=kdf),
        }
        vault = cls(root, holder, data_key, limits=limits)
        # Bind the holder key to the data key: a sealed key swapped in from another wallet
        # with the same passphrase would otherwise open silently as a different identity.
        vault.put(_META, _HOLDER, {"thumbprint": holder.public_key.thumbprint()}, replace=True)
        try:
            # The header is written last: it is what makes the directory a wallet.
            _write_atomic(root / HEADER, json_dumps(header), replace=False)
        except FileExistsError as exc:
            raise CivicError("wallet_exists", f"a wallet already exists in {root}") from exc
        return vault

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], passphrase: str, *, limits: Limits = DEFAULT_LIMITS
    ) -> Vault:
        """Open the wallet in ``path``; ``no_wallet``, ``wrong_passphrase`` or
        ``wallet_corrupted`` otherwise."""
        root = Path(path)
        header = _read_header(root)
        try:
            data_key = open_bytes(header["data_key"], passphrase, context=_DATA_KEY_CONTEXT)
        except InputError as exc:
            raise _corrupted(f"{HEADER}: the sealed data key is damaged ({exc.detail})") from exc
        try:
            holder = open_private_key(header["holder_key"], passphrase)
        except CivicError as exc:
            # The passphrase opened the data key, so a failure here is damage, not a typo.
            raise _corrupted(f"{HEADER}: the sealed holder key is damaged ({exc.detail})") from exc
        vault = cls(root, holder, data_key, limits=limits)
        try:
            meta = vault.get(_META, _HOLDER)
        except CivicError as exc:
            raise _corrupted("the wallet's holder record is missing") from exc
        if meta.get("thumbprint") != holder.public_key.thumbprint():
            raise _corrupted("the sealed holder key is not this wallet's")
        return vault

    def change_passphrase(self, new_passphrase: str, *, kdf: dict[str, Any] | None = None) -> None:
        """Re-seal the holder key and data key under ``new_passphrase`` (records are unchanged)."""
        _check_passphrase(new_passphrase)
        header = {
            "format": FORMAT,
            "v": VERSION,
            "holder_key": seal_private_key(self._holder, new_passphrase, kdf=kdf),
            "data_key": seal_bytes(
                self._data_key, new_passphrase, context=_DATA_KEY_CONTEXT, kdf=kdf
            ),
        }
        _write_atomic(self.path / HEADER, json_dumps(header), replace=True)

    @property
    def holder(self) -> PrivateKey:
        """The holder's signing key (it signs; it cannot be exported)."""
        return self._holder

    # --- keys of credential copies ------------------------------------------------------

    def add_copy_key(self, key: PrivateKey, key_id: str) -> None:
        """Keep ``key`` (a credential copy's holder key) as ``key_id``, wrapped under the data
        key; ``conflict`` if that id is taken."""
        name = _COPY_KEY + check_name(key_id)
        check_name(name)
        wrapped = wrap_private_key(key, self._data_key, context=f"{_AAD_PREFIX}{_META}/{name}")
        self.put(_META, name, {"key": wrapped})

    def copy_key(self, key_id: str) -> PrivateKey:
        """The copy key ``key_id`` (it signs; it cannot be exported); ``not_found`` if absent."""
        name = _COPY_KEY + check_name(key_id)
        record = self.get(_META, name)
        try:
            return unwrap_private_key(
                record.get("key"), self._data_key, context=f"{_AAD_PREFIX}{_META}/{name}"
            )
        except CivicError as exc:
            raise _corrupted(f"copy key {key_id} does not unwrap ({exc.detail})") from exc

    def copy_key_ids(self) -> list[str]:
        """The ids of every copy key kept."""
        return [n[len(_COPY_KEY) :] for n in self.names(_META) if n.startswith(_COPY_KEY)]

    def delete_copy_key(self, key_id: str) -> None:
        """Destroy the copy key ``key_id``; ``not_found`` if absent."""
        self.delete(_META, _COPY_KEY + check_name(key_id))

    # --- records -------------------------------------------------------------------------

    def _file(self, kind: str, name: str) -> Path:
        return self.path / kind / f"{check_name(name)}.rec"

    def _aad(self, kind: str, name: str) -> bytes:
        return f"{_AAD_PREFIX}{kind}/{name}".encode()

    def _seal(self, kind: str, name: str, value: dict[str, Any]) -> bytes:
        return aead_encrypt(self._data_key, json_dumps(value), self._aad(kind, name))

    def _open(self, kind: str, name: str, blob: bytes) -> dict[str, Any]:
        try:
            plain = aead_decrypt(self._data_key, blob, self._aad(kind, name))
            return json_object_strict(plain)
        except (VerificationError, InputError) as exc:
            raise _corrupted(f"{kind}/{name}.rec does not decrypt or parse") from exc

    def put(self, kind: str, name: str, value: dict[str, Any], *, replace: bool = False) -> None:
        """Store ``value`` encrypted as ``kind/name``; ``conflict`` if it exists (unless
        ``replace``)."""
        try:
            _write_atomic(self._file(kind, name), self._seal(kind, name, value), replace=replace)
        except FileExistsError as exc:
            raise CivicError("conflict", f"{kind}/{name} already exists") from exc

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """The record ``kind/name``; ``not_found`` if absent."""
        try:
            blob = _read(self._file(kind, name), self._limits.record_file_bytes)
        except FileNotFoundError as exc:
            raise CivicError("not_found", f"no {kind} record {name!r}") from exc
        return self._open(kind, name, blob)

    def names(self, kind: str) -> list[str]:
        """The names of the records of ``kind``, sorted."""
        directory = self.path / kind
        try:
            entries = list(directory.iterdir())
        except FileNotFoundError as exc:
            raise _corrupted(f"the {kind} directory is missing") from exc
        return sorted(
            p.name[:-4]
            for p in entries
            if p.name.endswith(".rec") and _NAME.fullmatch(p.name[:-4]) and p.is_file()
        )

    def delete(self, kind: str, name: str) -> None:
        """Remove ``kind/name``; ``not_found`` if absent."""
        try:
            self._file(kind, name).unlink()
        except FileNotFoundError as exc:
            raise CivicError("not_found", f"no {kind} record {name!r}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"cannot remove {kind}/{name}: {exc.strerror}") from exc
        _fsync_dir(self.path / kind)

    def sealed(self, kind: str, name: str) -> tuple[dict[str, Any], bytes]:
        """The record ``kind/name`` and its file's bytes (what a hash chain links);
        ``not_found`` if absent."""
        try:
            blob = _read(self._file(kind, name), self._limits.record_file_bytes)
        except FileNotFoundError as exc:
            raise CivicError("not_found", f"no {kind} record {name!r}") from exc
        return self._open(kind, name, blob), blob

    def put_new(self, kind: str, name: str, value: dict[str, Any]) -> bytes | None:
        """Store ``value`` as ``kind/name`` unless that exists; the file's bytes, or None when
        the name was taken (the history's chain is built on this)."""
        blob = self._seal(kind, name, value)
        try:
            _write_atomic(self._file(kind, name), blob, replace=False)
        except FileExistsError:
            return None
        return blob


def _check_passphrase(passphrase: str) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise InputError("invalid_request", "a wallet needs a non-empty passphrase")
    if len(passphrase) > 1024:
        raise InputError("too_large", "passphrase longer than 1024 characters")


def _read_header(root: Path) -> dict[str, Any]:
    try:
        raw = _read(root / HEADER, _HEADER_BYTES)
    except FileNotFoundError as exc:
        raise CivicError("no_wallet", f"no wallet in {root}") from exc
    except NotADirectoryError as exc:
        raise CivicError("no_wallet", f"{root} is not a directory") from exc
    try:
        header = json_object_strict(raw)
    except InputError as exc:
        raise _corrupted(f"{HEADER} is not valid JSON") from exc
    if header.get("format") != FORMAT:
        raise _corrupted(f"{HEADER} is not a civicstack wallet")
    if header.get("v") != VERSION:
        raise CivicError("unsupported", f"wallet format version {header.get('v')!r}")
    if not isinstance(header.get("holder_key"), dict) or not isinstance(
        header.get("data_key"), dict
    ):
        raise _corrupted(f"{HEADER} lacks its sealed keys")
    return header
