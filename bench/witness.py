"""The cost of witnessing one checkpoint (C2SP tlog-witness, tlog-cosignature).

Through a real ``civic witness`` process on this machine (HTTP/1.1 keep-alive, one uvicorn
worker, its state fsynced and renamed before each answer), a client grows a log one entry at a
time and, after each growth, signs a checkpoint and submits it with its consistency proof, as the
platform's witnessing thread does. Figures:

1. checkpoints cosigned per second, end to end (sign + proof + submit + verify the answer);
2. the latency one submission adds (median, p99), and the witness's share of it;
3. the peer in the same run: signing the checkpoint alone (what a log does without witnesses),
   in the same process on the same log.

Usage: ``.venv/bin/python bench/witness.py [--checkpoints N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.witness_process import running_witness

from civicstack._crypto import PrivateKey
from civicstack.log import Checkpoint, MemoryTiles, NoteSigner, parse_note, sign_checkpoint
from civicstack.log.cosignature import CosignatureVerifier
from civicstack.log.tiles import prove_consistency, root_at
from civicstack.log.witness import add_checkpoint_body, read_cosignatures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoints", type=int, default=500)
    args = parser.parse_args()
    n = args.checkpoints
    signer = NoteSigner("bench.invalid/log", PrivateKey.generate("EdDSA"))
    tiles = MemoryTiles()
    tiles.append(0, [b"genesis"])

    print(
        f"witnessing cost per checkpoint  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(f"  load average at start: {Path('/proc/loadavg').read_text().strip()}")
    print("  witness: `civic witness`, 1 uvicorn worker, httptools, state file fsync + rename +")
    print("           directory fsync before each 200 (C2SP tlog-witness 'MUST persist')")
    print("  client:  1 thread, httpx keep-alive, one entry appended between checkpoints,")
    print("           consistency proof from the witness's last size (in-memory tiles)")
    print("  peer:    the same checkpoint signing (Ed25519 signed note) with no witness")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_witness(Path(tmp) / "w", [signer.verifier.vkey]) as w,
    ):
        verifier = CosignatureVerifier.parse(w.vkey)
        client = httpx.Client(timeout=10)
        old, size = 0, 1
        latencies: list[float] = []
        signing: list[float] = []
        started = time.perf_counter()
        for i in range(n):
            tiles.append(size, [f"entry {i}".encode()])
            size += 1
            t0 = time.perf_counter()
            note = sign_checkpoint(Checkpoint(signer.name, size, root_at(size, tiles)), [signer])
            t1 = time.perf_counter()
            proof = prove_consistency(old, size, tiles) if old else []
            answer = client.post(
                f"{w.url}/add-checkpoint", content=add_checkpoint_body(old, proof, note)
            )
            if answer.status_code != 200:
                raise SystemExit(f"witness answered {answer.status_code}: {answer.text}")
            read_cosignatures(answer.content, parse_note(note).text, verifier)
            t2 = time.perf_counter()
            signing.append(t1 - t0)
            latencies.append(t2 - t1)
            old = size
        total = time.perf_counter() - started
        client.close()
    # The peer alone, in the same run, on the same tree.
    peer_started = time.perf_counter()
    for _ in range(n):
        sign_checkpoint(Checkpoint(signer.name, size, root_at(size, tiles)), [signer])
    peer = time.perf_counter() - peer_started

    def ms(x: float) -> str:
        return f"{x * 1000:.2f} ms"

    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"\n  {n} checkpoints, tree sizes 2..{size}")
    print(f"  cosigned end to end:   {n / total:8.0f} checkpoints/s")
    print(f"  signing alone (peer):  {n / peer:8.0f} checkpoints/s")
    print(f"  ratio (witnessed / signing alone): {peer / total:.3f}")
    print(f"  added latency per checkpoint: median {ms(statistics.median(lat))}, p99 {ms(p99)}")
    print(f"  signing one checkpoint:       median {ms(statistics.median(signing))}")
    print(f"  load average at end: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
