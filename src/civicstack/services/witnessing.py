"""The platform's logs submit their checkpoints to witnesses (C2SP tlog-witness, client side).

For every log of the store (the registers' logs, the access log, any log: this works at the
level of a log and its checkpoints) and every configured witness (``CIVIC_WITNESSES``),
:meth:`Witnessing.push` sends the log's latest signed checkpoint that the witness has not
cosigned yet, with a consistency proof from the largest size that witness cosigned
("add-checkpoint"); a 409 answer names the size the witness knows, and the request is made once
more from there. Each cosignature returned is verified with the witness's key
(tlog-cosignature) before it is recorded; from then on every checkpoint the log store hands out
at that size carries it (:mod:`civicstack.stores.log.cosignatures`).

Writes never wait for witnesses: :class:`WitnessPusher` runs ``push`` in a background thread
of ``civic up`` (one, whatever the number of workers) every ``CIVIC_WITNESS_INTERVAL`` seconds;
what was cosigned is in the database, so a restart resumes where it stopped. A witness that
refuses a checkpoint (403, 404, 422) is reported and logged, never retried in a tight loop: a
422 from a witness means this log's history is not the one it cosigned — a fork.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from civicstack.errors import CivicError
from civicstack.fetch import read_capped
from civicstack.log import Checkpoint, LogHead, parse_note
from civicstack.log.witness import (
    WitnessEndpoint,
    add_checkpoint_body,
    parse_size_conflict,
    read_cosignatures,
)

__all__ = [
    "HttpWitnessTransport",
    "Outcome",
    "WitnessPusher",
    "WitnessTransport",
    "WitnessedLogs",
    "Witnessing",
]

log = logging.getLogger("civicstack.witnessing")

#: A witness's answer is a few signature lines or a size; anything larger is refused unread.
MAX_ANSWER_BYTES = 64 * 1024


class WitnessedLogs(Protocol):
    """What witnessing needs of the log store (:class:`civicstack.stores.log.LogStore`)."""

    def logs(self) -> list[LogHead]:
        """Every log, with its latest signed checkpoint (as the log signed it)."""
        ...

    def consistency_proof(self, name: str, size1: int, size2: int | None = None) -> list[bytes]:
        """The RFC 9162 consistency proof from ``size1`` to ``size2``."""
        ...

    def cosigned_sizes(self, name: str) -> dict[str, int]:
        """The largest size each witness cosigned."""
        ...

    def add_cosignature(
        self, name: str, size: int, witness: str, timestamp: int, line: str
    ) -> None:
        """Record a verified cosignature line."""
        ...


class WitnessTransport(Protocol):
    """Posts an ``add-checkpoint`` body; the status and (capped) body of the answer."""

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """Raise ``witness_unavailable`` when the witness cannot be reached."""
        ...


class HttpWitnessTransport:
    """:class:`WitnessTransport` over HTTP, with keep-alive connections (tlog-witness: "Clients
    SHOULD use ... HTTP keep-alive")."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` to ``url``."""
        try:
            with self._client.stream(
                "POST", url, content=body, headers={"Content-Type": "text/plain"}
            ) as response:
                data = read_capped(response, MAX_ANSWER_BYTES, what=url)
                return response.status_code, data
        except (httpx.HTTPError, CivicError) as exc:
            raise CivicError("witness_unavailable", f"{url}: {exc}") from exc

    def close(self) -> None:
        """Close the connections."""
        self._client.close()


@dataclass(frozen=True)
class Outcome:
    """What happened to one log's checkpoint at one witness."""

    log: str
    witness: str
    size: int
    result: Literal["cosigned", "current", "refused", "unavailable"]
    detail: str = ""


class Witnessing:
    """Submits the logs' checkpoints to the witnesses (see the module docstring)."""

    def __init__(
        self,
        logs: WitnessedLogs,
        witnesses: Sequence[WitnessEndpoint],
        transport: WitnessTransport,
    ) -> None:
        self.logs = logs
        self.witnesses = tuple(witnesses)
        self.transport = transport
        # (log, witness) -> the size refused: not sent again until the log signs another.
        self._refusals: dict[tuple[str, str], int] = {}
        # log -> the checkpoint every witness has cosigned: no query until the log signs anew.
        self._settled: dict[str, str] = {}

    def push(self) -> list[Outcome]:
        """One round: every log's latest checkpoint to every witness that lacks it."""
        out: list[Outcome] = []
        if not self.witnesses:
            return out
        for head in self.logs.logs():
            if not head.checkpoint or self._settled.get(head.name) == head.checkpoint:
                continue  # a log without a key signs nothing; a settled one has nothing new
            cosigned = self.logs.cosigned_sizes(head.name)
            done = [self.push_one(head.name, head.checkpoint, w, cosigned) for w in self.witnesses]
            if all(o.result in ("cosigned", "current") for o in done):
                self._settled[head.name] = head.checkpoint
            out += done
        return out

    def push_one(
        self, name: str, note: str, witness: WitnessEndpoint, cosigned: dict[str, int]
    ) -> Outcome:
        """Submit the signed checkpoint ``note`` of log ``name`` to ``witness``."""
        text = parse_note(note).text
        checkpoint = Checkpoint.parse(text)
        size, wid = checkpoint.size, witness.verifier.id
        known = cosigned.get(wid)
        if known is not None and known >= size:
            return Outcome(name, wid, size, "current")
        if self._refusals.get((name, wid)) == size:
            return Outcome(
                name, wid, size, "refused", "refused before; waiting for a new checkpoint"
            )
        outcome = self._submit(
            name, note, text=text, checkpoint=checkpoint, witness=witness, known=known
        )
        if outcome.result == "refused":
            self._refusals[(name, wid)] = size
        return outcome

    def _submit(
        self,
        name: str,
        note: str,
        *,
        text: str,
        checkpoint: Checkpoint,
        witness: WitnessEndpoint,
        known: int | None,
    ) -> Outcome:
        size, wid = checkpoint.size, witness.verifier.id
        old = known or 0
        try:
            for attempt in range(2):
                # 1. A consistency proof from the size the witness cosigned to this one.
                proof = self.logs.consistency_proof(name, old, size) if 0 < old < size else []
                status, answer = self.transport.post(
                    witness.add_checkpoint_url, add_checkpoint_body(old, proof, note)
                )
                # 2. 200: one cosignature line from the witness's key, verified, recorded.
                if status == 200:
                    line, timestamp = read_cosignatures(answer, text, witness.verifier)
                    self.logs.add_cosignature(name, size, wid, timestamp, line.line())
                    return Outcome(name, wid, size, "cosigned")
                # 3. 409: the witness knows another size; try once more from it.
                if status == 409 and attempt == 0:
                    old = parse_size_conflict(answer)
                    if old > size:
                        detail = f"the witness cosigned {old} entries, more than this log's {size}"
                        return self._refused(name, wid, size, detail)
                    continue
                detail = f"HTTP {status}: {answer[:300].decode('utf-8', 'replace')}"
                return self._refused(name, wid, size, detail)
        except CivicError as exc:
            result: Literal["refused", "unavailable"] = (
                "unavailable" if exc.code == "witness_unavailable" else "refused"
            )
            log.warning("witness %s, log %s at %d: %s", wid, name, size, exc.detail)
            return Outcome(name, wid, size, result, exc.detail)
        return self._refused(name, wid, size, "the witness's size kept changing")

    @staticmethod
    def _refused(name: str, wid: str, size: int, detail: str) -> Outcome:
        log.warning("witness %s refused checkpoint %d of log %s: %s", wid, size, name, detail)
        return Outcome(name, wid, size, "refused", detail)


class WitnessPusher:
    """:meth:`Witnessing.push` in a daemon thread every ``interval`` seconds (started once,
    by ``civic up``); :meth:`stop` waits for a round in progress, then calls ``on_stop``."""

    def __init__(
        self,
        push: Callable[[], list[Outcome]],
        *,
        interval: float,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.stopping = threading.Event()
        self.on_stop = on_stop
        self._push = push
        self._interval = interval
        self.thread = threading.Thread(target=self._run, name="civic-witnessing", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._push()
            except Exception:  # the database away for a moment: logged, retried next round
                log.exception("submitting checkpoints to witnesses failed")
            if self.stopping.wait(self._interval):
                break

    def start(self) -> WitnessPusher:
        """Start pushing in the background; itself."""
        self.thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round in progress; then ``on_stop``."""
        self.stopping.set()
        if self.thread.ident is not None:
            self.thread.join(timeout)
        if self.on_stop is not None and not self.thread.is_alive():
            self.on_stop()
