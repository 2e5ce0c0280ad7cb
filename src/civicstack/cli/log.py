"""``civic log``: read the Merkle logs, prove entries, verify receipts, monitor checkpoints.

Logs live in the platform's database (``CIVIC_DATA_DIR`` / ``CIVIC_DATABASE_URL``). Hashes are
printed in standard base64, as C2SP formats write them. ``monitor`` checks that two signed
checkpoints of one log are consistent (RFC 9162 §2.1.4.2), with a consistency proof from a file,
from a tlog-tiles endpoint, or from the local database, and exits non-zero with a coded line
when they are not. A checkpoint argument is a file, ``-``, an http(s) URL, or ``db:LOG[@SIZE]``
(one the local log signed).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption
from civicstack.errors import CivicError, InputError
from civicstack.fetch import read_capped

app = typer.Typer(
    name="log",
    help="Merkle logs: checkpoints, proofs, receipts, monitoring.",
    no_args_is_help=True,
)

#: Checkpoints, receipts and proof files are small; anything bigger is refused unread. The
#: CLI's own cap on one file argument: the log recipes these bytes go to apply their own,
#: tighter caps (:class:`civicstack.log.Limits`, ``MAX_PROOF_HASHES``).
MAX_INPUT_BYTES = 1024 * 1024
#: A register's name, as the registers service accepts it in a URL path.
_REGISTER = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
SizeOption = Annotated[
    int | None, typer.Option("--size", min=0, help="Tree size (default: the latest).")
]
KeyOption = Annotated[
    list[str],
    typer.Option("--key", help="Trusted verifier key <name>+<id>+<key> (repeatable)."),
]
WitnessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness's verifier key (C2SP tlog-cosignature, type 0x04) whose cosignature"
        " counts (repeatable).",
    ),
]
QuorumOption = Annotated[
    int | None,
    typer.Option(
        "--quorum",
        min=0,
        help="How many of the --witness keys must have cosigned (default: all of them).",
    ),
]


def _b64(data: bytes) -> str:
    from civicstack.log.note import b64std_encode

    return b64std_encode(data)


@contextmanager
def _store() -> Iterator[Any]:
    """The platform's log store (migrations applied), from CIVIC_DATA_DIR / CIVIC_DATABASE_URL."""
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    platform = Platform(Settings.from_env())
    try:
        platform.migrate()
        yield platform.logs
    finally:
        platform.close()


def _http_get(url: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    import httpx

    try:
        with (
            httpx.Client(timeout=10.0, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CivicError("fetch_failed", f"{url}: HTTP {response.status_code}")
            return read_capped(response, limit, what=url)
    except httpx.HTTPError as exc:
        raise CivicError("fetch_failed", f"{url}: {exc}") from exc


def _read(source: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file, ``-`` (standard input) or an http(s) URL, at most ``limit``."""
    if source.startswith(("http://", "https://")):
        return _http_get(source, limit)
    if source.startswith("db:"):
        return _db_checkpoint(source[3:]).encode("utf-8")
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(source)
        if path.is_file() and path.stat().st_size > limit:
            raise InputError("too_large", f"{source} is larger than {limit} bytes")
        data = path.read_bytes()
    if len(data) > limit:
        raise InputError("too_large", f"{source} is larger than {limit} bytes")
    return data


def _db_checkpoint(spec: str) -> str:
    """``LOG`` or ``LOG@SIZE``: a checkpoint the local log signed."""
    name, _, size = spec.partition("@")
    if size and not size.isdigit():
        raise InputError("invalid_request", "write db:LOG or db:LOG@SIZE")
    with _store() as store:
        note: str = store.checkpoint(name, int(size) if size else None)
    return note


def _policy(witnesses: list[str] | None, quorum: int | None) -> Any:
    """The witness policy of ``--witness``/``--quorum``, or ``None`` without witnesses."""
    from civicstack.log import WitnessPolicy

    if not witnesses:
        if quorum:
            raise InputError("invalid_request", "--quorum counts --witness keys: give them")
        return None
    return WitnessPolicy.of(witnesses, quorum)


def _verifiers(keys: list[str]) -> list[Any]:
    from civicstack.log import NoteVerifier

    if not keys:
        raise InputError("invalid_request", "give at least one trusted --key")
    return [NoteVerifier.parse(k) for k in keys]


@app.command("list")
def list_logs(as_json: JsonOption = False) -> None:
    """List the logs with their origin, size and verifier key."""
    with _store() as store:
        heads = store.logs()
    data = [
        {
            "name": h.name,
            "origin": h.origin,
            "size": h.size,
            "root": _b64(h.root),
            "key": h.verifier_key,
        }
        for h in heads
    ]

    def human() -> None:
        if not heads:
            console.print("no logs yet")
        for h in heads:
            console.print(
                f"[bold]{h.name}[/]  {h.size} entries  {h.origin}\n  key {h.verifier_key}"
            )

    emit(data, as_json, human)


@app.command("checkpoint")
def checkpoint(
    log: Annotated[str, typer.Argument(help="Log name.")],
    size: SizeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the log's latest signed checkpoint (or the one it signed at --size)."""
    from civicstack.log import Checkpoint, parse_note

    with _store() as store:
        note = store.checkpoint(log, size)
        head = store.head(log)
    if not as_json:
        sys.stdout.write(note)
        return
    cp = Checkpoint.parse(parse_note(note).text)
    emit(
        {
            "log": log,
            "origin": cp.origin,
            "size": cp.size,
            "root": _b64(cp.root),
            "key": head.verifier_key,
            "checkpoint": note,
        },
        True,
    )


@app.command("prove")
def prove(
    log: Annotated[str, typer.Argument(help="Log name.")],
    index: Annotated[int, typer.Argument(min=0, help="Entry index (from 0).")],
    size: SizeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the RFC 9162 inclusion proof of entry INDEX in the tree of --size entries."""
    from civicstack.log import leaf_hash

    with _store() as store:
        size = store.head(log).size if size is None else size
        hashes = [_b64(h) for h in store.inclusion_proof(log, index, size)]
        leaf, root = _b64(leaf_hash(store.entry(log, index))), _b64(store.root(log, size))
    data = {"log": log, "index": index, "size": size, "leaf_hash": leaf, "root": root}
    data["proof"] = hashes

    def human() -> None:
        console.print(f"entry {index} of {log} in the tree of {size}")
        console.print(f"leaf hash  {leaf}\nroot       {root}")
        for h in hashes:
            console.print(f"  {h}")

    emit(data, as_json, human)


@app.command("consistency")
def consistency(
    log: Annotated[str, typer.Argument(help="Log name.")],
    size1: Annotated[int, typer.Argument(min=1, help="The older tree size.")],
    size: SizeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the consistency proof from SIZE1 to --size: base64 hashes, one per line."""
    with _store() as store:
        size2 = store.head(log).size if size is None else size
        proof = store.consistency_proof(log, size1, size2)
        root1, root2 = store.root(log, size1), store.root(log, size2)
    if not as_json:
        sys.stdout.write("".join(_b64(h) + "\n" for h in proof))
        return
    data = {"log": log, "size1": size1, "size2": size2, "root1": _b64(root1), "root2": _b64(root2)}
    emit({**data, "proof": [_b64(h) for h in proof]}, True)


@app.command("receipt")
def receipt(
    log: Annotated[str, typer.Argument(help="Log name.")],
    index: Annotated[int, typer.Argument(min=0, help="Entry index (from 0).")],
    size: SizeOption = None,
    no_entry: Annotated[
        bool, typer.Option("--no-entry", help="Leave the entry out of the extra data.")
    ] = False,
) -> None:
    """Print a C2SP tlog-proof receipt for entry INDEX (the entry rides in its extra data)."""
    with _store() as store:
        text = store.receipt(log, index, size=size, with_entry=not no_entry).text()
    sys.stdout.write(text)


@app.command("verify-receipt")
def verify_receipt(
    file: Annotated[str, typer.Argument(help="The .tlog-proof file, - or a URL.")],
    *,
    key: KeyOption,
    entry: Annotated[
        Path | None, typer.Option("--entry", help="The entry's bytes (default: the extra data).")
    ] = None,
    origin: Annotated[
        str | None, typer.Option("--origin", help="The log's expected origin.")
    ] = None,
    witness: WitnessOption = None,
    quorum: QuorumOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a tlog-proof receipt offline against trusted keys; print what it proves.

    With --witness, its checkpoint must also be cosigned by --quorum of those witnesses.
    """
    import time

    from civicstack.log import MAX_ENTRY_BYTES, verify_witnessed_receipt
    from civicstack.log import verify_receipt as verify

    data = _read(file)
    entry_bytes = _read(str(entry), MAX_ENTRY_BYTES) if entry is not None else None
    policy = _policy(witness, quorum)
    if policy is None:
        got = verify(data, _verifiers(key), entry=entry_bytes, origin=origin)
    else:
        got = verify_witnessed_receipt(
            data, _verifiers(key), policy, entry=entry_bytes, origin=origin, now=int(time.time())
        )
    cp = got.checkpoint
    out = {
        "verified": True,
        "origin": cp.origin,
        "size": cp.size,
        "root": _b64(cp.root),
        "index": got.index,
        "leaf_hash": _b64(got.leaf_hash),
        "entry": _b64(got.entry) if got.entry is not None else None,
    }

    def human() -> None:
        console.print(f"[green]verified[/]: entry {got.index} of {cp.origin} (tree of {cp.size})")
        if got.entry is not None:
            text = got.entry.decode("utf-8", "replace")
            console.print(f"entry      {text[:200]}{'…' if len(text) > 200 else ''}", markup=False)
        console.print(f"leaf hash  {out['leaf_hash']}")

    emit(out, as_json, human)


def _proof_lines(raw: bytes) -> list[bytes]:
    from civicstack.log.note import b64std_decode

    try:
        lines = raw.decode("ascii").split()
    except UnicodeDecodeError as exc:
        raise InputError("malformed", "a proof file holds base64 hashes, one per line") from exc
    if len(lines) > 128:
        raise InputError("too_large", "a consistency proof has at most 128 hashes")
    return [b64std_decode(line, "malformed") for line in lines]


def _fetched_proof(prefix: str, size1: int, size2: int) -> list[bytes]:
    from civicstack.log import prove_consistency
    from civicstack.log.tiles import FetchedTiles

    base = prefix.rstrip("/")
    return prove_consistency(size1, size2, FetchedTiles(lambda path: _http_get(f"{base}/{path}")))


def _local_proof(origin: str, log: str | None, size1: int, size2: int) -> list[bytes]:
    with _store() as store:
        name = log
        if name is None:
            names = [h.name for h in store.logs() if h.origin == origin]
            if not names:
                raise InputError(
                    "unknown_log", f"no local log has origin {origin!r}: give --proof or --tiles"
                )
            name = names[0]
        proof: list[bytes] = store.consistency_proof(name, size1, size2)
    return proof


class _GivenCheckpoint:
    """A checkpoint named on the command line: the monitor's last seen, or its source."""

    def __init__(self, where: str) -> None:
        self._where = where

    def last_seen(self) -> bytes:
        return _read(self._where)

    def remember(self, note: bytes) -> None:
        """Nothing to keep: the older checkpoint is given each time."""

    def checkpoint(self) -> bytes:
        return _read(self._where)


@app.command("monitor")
def monitor(
    old: Annotated[
        str, typer.Argument(help="The older checkpoint: file, -, URL or db:LOG[@SIZE].")
    ],
    new: Annotated[
        str | None,
        typer.Argument(
            help="The newer checkpoint: file, -, URL or db:LOG[@SIZE] (default with --register:"
            " the register's latest on --server)."
        ),
    ] = None,
    *,
    key: KeyOption,
    register: Annotated[
        str | None,
        typer.Option(
            "--register",
            help="A register on --server: its latest checkpoint is NEW, its tiles the proof.",
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Consistency proof file (base64 lines).")
    ] = None,
    tiles: Annotated[
        str | None, typer.Option("--tiles", help="tlog-tiles URL prefix to build the proof from.")
    ] = None,
    log: Annotated[
        str | None, typer.Option("--log", help="Local log to prove from (default: by origin).")
    ] = None,
    witness: WitnessOption = None,
    quorum: QuorumOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check that two signed checkpoints of one log are consistent; exit 1 if they are not.

    The proof comes from --proof, else from --tiles, else from the local database. With
    --register NAME, the register's log on --server (CIVIC_SERVER) gives the newer checkpoint
    and the tiles. With --witness, the newer checkpoint must be cosigned by --quorum of those
    witnesses (witness_quorum_not_met); two checkpoints of one size with two roots are a
    split view (split_view).
    """
    import time

    from civicstack.log.monitor import check_checkpoint

    verifiers = _verifiers(key)
    policy = _policy(witness, quorum)
    if register is not None:
        if not _REGISTER.fullmatch(register):
            raise InputError("invalid_request", f"{register!r} is not a register name")
        base = f"{server.rstrip('/')}/registers/{register}/log"
        new = new if new is not None else f"{base}/checkpoint"
        tiles = tiles if tiles is not None or proof is not None else base
    if new is None:
        raise InputError("invalid_request", "give the newer checkpoint, or --register NAME")

    def prove(origin: str, size1: int, size2: int) -> tuple[list[bytes], str]:
        if proof is not None:
            return _proof_lines(_read(str(proof))), str(proof)
        if tiles is not None:
            return _fetched_proof(tiles, size1, size2), tiles
        return _local_proof(origin, log, size1, size2), "local database"

    # The older checkpoint is the monitor's last seen (this command keeps no state of its own)
    # and the newer its source; either may be the larger tree.
    checked = check_checkpoint(
        _GivenCheckpoint(old),
        _GivenCheckpoint(new),
        verifiers,
        prove,
        witnesses=policy,
        now=int(time.time()),
    )
    first, second, source = checked.older, checked.newer, checked.proof_source
    data = {
        "consistent": True,
        "origin": first.origin,
        "old_size": first.size,
        "new_size": second.size,
        "old_root": _b64(first.root),
        "new_root": _b64(second.root),
        "proof_source": source,
    }
    if policy is not None:
        data["cosigned_by"] = list(checked.cosigned_by)

    def human() -> None:
        console.print(
            f"[green]consistent[/]: {first.origin} {first.size} -> {second.size} (proof: {source})"
        )
        if checked.cosigned_by:
            console.print("cosigned by " + ", ".join(checked.cosigned_by), markup=False)

    emit(data, as_json, human)
