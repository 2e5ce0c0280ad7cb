"""Reads of the log store: heads, roots and proofs from the tiles, checkpoints, entries, and the
tiles and entry bundles a log serves."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from civicstack.errors import CivicError, InputError
from civicstack.log import LogHead, Receipt
from civicstack.log.tiles import (
    TILE_WIDTH,
    ProofMemo,
    Tile,
    TilePeek,
    TileRef,
    decode_bundle,
    encode_bundle,
    prove_consistency,
    prove_inclusion,
    root_at,
    tile_width,
)
from civicstack.stores.db import Fetch
from civicstack.stores.log.cosignatures import with_cosignatures
from civicstack.stores.log.database import LogDatabase, _check_name, _Row

__all__ = ["MEMO_ENTRIES", "LogReads"]

#: Span hashes remembered per log before its memo starts afresh (about 200 bytes each).
MEMO_ENTRIES = 1 << 17


class _CachedTiles:
    """Committed tiles of one log: from the cache, and from the database only for misses."""

    def __init__(self, store: LogDatabase, log_id: int) -> None:
        self._store, self._log_id = store, log_id

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        store, log_id = self._store, self._log_id
        out: dict[tuple[int, int], Tile] = {}
        missing: list[TileRef] = []
        for ref in refs:
            hit = store._tile_cache.get((log_id, ref.level, ref.idx))
            if hit is not None and hit.width >= ref.width:
                out[(ref.level, ref.idx)] = hit
            else:
                missing.append(ref)
        if missing:
            with store._reading() as fetch:
                out.update(store._read_tiles(fetch, log_id, missing, cache=True))
        return out


class LogReads(LogDatabase):
    """The reads of :class:`~civicstack.stores.log.LogStore` (see the package docstring)."""

    # name -> (log id, largest size seen committed); log id -> span hashes.
    _known: dict[str, tuple[int, int]]
    _proving: dict[int, tuple[ProofMemo, TilePeek, _CachedTiles]]

    # --- reads ------------------------------------------------------------------------------

    def head(self, name: str) -> LogHead:
        """The log's origin, verifier key, size, root and latest signed checkpoint."""
        with self._reading() as fetch:
            # Only a constant subquery is interpolated; the name is a bound parameter.
            rows = fetch(
                f"SELECT id, origin, verifier_key, size, {self._last_leaf()}, checkpoint"  # noqa: S608
                " FROM log_logs WHERE name = ?",
                (_check_name(name),),
            )
        if not rows:
            raise InputError("unknown_log", f"no log named {name!r}")
        r = rows[0]
        size = int(r[3]) if r[4] is None else max(int(r[3]), int(r[4]) + 1)
        return self._head(name, _Row(int(r[0]), str(r[1]), str(r[2]), size), str(r[5]))

    def logs(self) -> list[LogHead]:
        """Every log, by name."""
        with self._reading() as fetch:
            names = [str(r[0]) for r in fetch("SELECT name FROM log_logs ORDER BY name", ())]
        return [self.head(name) for name in names]

    def _head(self, name: str, row: _Row, checkpoint: str) -> LogHead:
        """The head of a log whose row (and true size) was just read: its root comes from the
        tiles, since appends inside the partial bundle do not write it."""
        self._saw(name, row)
        memo, _, tiles = self._prover(row.id)
        root = root_at(row.size, tiles, memo)
        return LogHead(name, row.origin, row.verifier_key, row.size, root, checkpoint)

    def _saw(self, name: str, row: _Row) -> None:
        """Remember that ``row`` (read outside any write transaction) is committed."""
        known = self._known.get(name)
        if known is None or row.size > known[1]:
            self._known[name] = (row.id, row.size)

    def _sized(self, name: str, size: int | None) -> tuple[int, int]:
        """The log's id and the tree size to use (default: the latest).

        A size within the largest one seen committed needs no database read: trees only grow.
        Raises ``unknown_log``, ``invalid_request`` or ``proof_out_of_range``.
        """
        if isinstance(size, int) and size >= 0:
            known = self._known.get(name)
            if known is not None and size <= known[1]:
                return known[0], size
        with self._reading() as fetch:
            row = self._row(fetch, name)
        self._saw(name, row)
        if size is None:
            return row.id, row.size
        if not isinstance(size, int) or not 0 <= size <= row.size:
            raise InputError(
                "proof_out_of_range", f"log {name!r} has {row.size} entries, not {size}"
            )
        return row.id, size

    def _prover(self, log_id: int) -> tuple[ProofMemo, TilePeek, _CachedTiles]:
        """What proofs of one log read from: remembered spans, the tile cache, the database."""
        held = self._proving.get(log_id)
        if held is None:
            held = (
                ProofMemo(MEMO_ENTRIES),
                self._tile_cache.peek(log_id),
                _CachedTiles(self, log_id),
            )
            self._proving[log_id] = held
        held[0].trim()
        return held

    def root(self, name: str, size: int | None = None) -> bytes:
        """The root hash of the log's first ``size`` entries (default: all)."""
        log_id, size = self._sized(name, size)
        memo, _, tiles = self._prover(log_id)
        return root_at(size, tiles, memo)

    def inclusion_proof(self, name: str, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (default: all).

        Raises ``unknown_log`` or ``proof_out_of_range``.
        """
        log_id, size = self._sized(name, size)
        if not isinstance(index, int) or not 0 <= index < size:
            raise InputError("proof_out_of_range", f"no entry {index} in a tree of {size}")
        memo, peek, tiles = self._prover(log_id)
        return prove_inclusion(index, size, tiles, memo, peek)

    def consistency_proof(self, name: str, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``size1`` to ``size2`` (default: all).

        Raises ``unknown_log`` or ``proof_out_of_range`` (sizes must be 0 < size1 <= size2).
        """
        log_id, size2 = self._sized(name, size2)
        if not isinstance(size1, int) or not 0 < size1 <= size2:
            raise InputError("proof_out_of_range", f"no consistency proof from {size1} to {size2}")
        memo, peek, tiles = self._prover(log_id)
        return prove_consistency(size1, size2, tiles, memo, peek)

    def checkpoint(self, name: str, size: int | None = None) -> str:
        """The signed checkpoint of the log at ``size`` (default: the latest signed one, which
        trails the log's size after appends without a signer), with the witnesses'
        cosignatures of that size appended (:mod:`.cosignatures`)."""
        with self._reading() as fetch:
            note = self._signed_checkpoint(fetch, name, size)
            return with_cosignatures(fetch, name, note)

    def _signed_checkpoint(self, fetch: Fetch, name: str, size: int | None) -> str:
        if size is None:
            found = fetch("SELECT checkpoint FROM log_logs WHERE name = ?", (_check_name(name),))
            if not found:
                raise InputError("unknown_log", f"no log named {name!r}")
            found = [r for r in found if r[0]]
        else:
            row = self._row(fetch, name)
            found = fetch(
                "SELECT note FROM log_checkpoints WHERE log_id = ? AND size = ?",
                (row.id, size),
            )
        if not found:
            raise InputError("not_found", f"log {name!r} signed no checkpoint at size {size}")
        return str(found[0][0])

    def entries(self, name: str, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)`` of the log (at most ``limits.read_entries`` at a time)."""
        if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start <= end:
            raise InputError("invalid_request", "entries are read from start to end")
        if end - start > self.limits.read_entries:
            most = self.limits.read_entries
            raise InputError("too_large", f"at most {most} entries per read")
        with self._reading() as fetch:
            row = self._row(fetch, name)
            if end > row.size:
                raise InputError("proof_out_of_range", f"log {name!r} has {row.size} entries")
            if start == end:
                return []
            first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
            out = self._read_entries(fetch, row.id, first, last, end)
            if out is None:  # the partial bundle filled between two reads: read it again
                out = self._read_entries(fetch, row.id, first, last, end)
        if out is None:
            raise CivicError("internal_error", f"entry bundles of log {name!r} are missing")
        offset = first * TILE_WIDTH
        if len(out) < end - offset:
            raise CivicError("internal_error", f"entry bundles of log {name!r} are short")
        return out[start - offset : end - offset]

    @staticmethod
    def _read_entries(
        fetch: Fetch, log_id: int, first: int, last: int, end: int
    ) -> list[bytes] | None:
        """Entries of bundles ``first..last``: full bundles, then the partial one's leaves.

        None when a bundle is missing (a concurrent append may have just filled the partial
        bundle and the next appends overwritten its leaf rows; a second read finds the bundle).
        """
        rows = fetch(
            "SELECT idx, data FROM log_bundles WHERE log_id = ? AND idx >= ? AND idx <= ?"
            " ORDER BY idx",
            (log_id, first, last),
        )
        if [int(r[0]) for r in rows] != list(range(first, first + len(rows))):
            return None
        out: list[bytes] = []
        for _idx, data in rows:
            out += decode_bundle(bytes(data))
        if len(rows) <= last - first:
            start = (first + len(rows)) * TILE_WIDTH
            leaves = fetch(
                "SELECT idx, entry FROM log_leaves WHERE log_id = ? AND idx >= ? AND idx < ?"
                " ORDER BY idx",
                (log_id, start, end),
            )
            if [int(r[0]) for r in leaves] != list(range(start, end)):
                return None
            out += [bytes(r[1]) for r in leaves]
        return out

    def entry(self, name: str, index: int) -> bytes:
        """Entry ``index`` of the log."""
        if not isinstance(index, int) or index < 0:
            raise InputError("proof_out_of_range", f"no entry {index}")
        return self.entries(name, index, index + 1)[0]

    def receipt(
        self, name: str, index: int, *, size: int | None = None, with_entry: bool = True
    ) -> Receipt:
        """A C2SP tlog-proof for entry ``index`` under the checkpoint at ``size`` (default latest).

        ``with_entry`` puts the entry in the receipt's extra data, so the receipt alone shows
        what was logged (the inclusion proof is what authenticates it).
        """
        size = self.head(name).size if size is None else size
        # Appends without a signer leave the latest checkpoint behind the latest size.
        note = self.checkpoint(name, size)
        proof = self.inclusion_proof(name, index, size)
        extra = self.entry(name, index) if with_entry else None
        return Receipt(index, tuple(proof), note, extra or None)

    def tile(self, name: str, level: int, index: int, width: int | None = None) -> bytes:
        """The tlog-tiles tile ``level``/``index`` (``width`` for a partial tile), for serving."""
        if (
            not (isinstance(level, int) and isinstance(index, int))
            or not 0 <= level < 64
            or index < 0
        ):
            raise InputError("not_found", "no such tile")
        with self._reading() as fetch:
            row = self._row(fetch, name)
            have = tile_width(level, index, row.size)
            want = TILE_WIDTH if width is None else width
            if not 0 < want <= have or (width is not None and not 0 < width < TILE_WIDTH):
                raise InputError("not_found", "no such tile")
            tile = self._read_tiles(fetch, row.id, [TileRef(level, index, want)], cache=True)
        return tile[(level, index)].hashes[: want * 32]

    def entry_bundle(self, name: str, index: int, width: int | None = None) -> bytes:
        """The tlog-tiles entry bundle ``index`` (``width`` entries for a partial one)."""
        want = TILE_WIDTH if width is None else width
        if not isinstance(index, int) or index < 0 or not 0 < want <= TILE_WIDTH:
            raise InputError("not_found", "no such entry bundle")
        start = index * TILE_WIDTH
        try:
            return encode_bundle(self.entries(name, start, start + want))
        except InputError as exc:
            if exc.code == "proof_out_of_range":
                raise InputError("not_found", "no such entry bundle") from exc
            raise
