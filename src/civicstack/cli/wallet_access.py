"""``civic wallet access-history``: every access to the holder's data, proven complete.

The wallet asks the platform (``--server``/``CIVIC_SERVER``) for its holder's history with a
PID presentation, then checks every proof itself (:mod:`civicstack.wallet.access_history`):
the checkpoint's signature (and the witnesses' cosignatures with ``--witness``), each entry's
inclusion proof, the holder's chain, and the subject map's proof that no entry is missing.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import typer
from rich.table import Table
from rich.text import Text

from civicstack.access.history import VerifiedHistory
from civicstack.cli._local import passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.cli.log import KeyOption, QuorumOption, WitnessOption, _policy
from civicstack.cli.wallet import when
from civicstack.errors import CivicError
from civicstack.fetch import read_capped
from civicstack.log.note import b64std_encode
from civicstack.wallet import Wallet
from civicstack.wallet.access_history import pull_access_history
from civicstack.wallet.consents import Post

app = typer.Typer()

#: A history of 10,000 entries with their proofs is about 15 MB; nothing larger is read.
MAX_HISTORY_BYTES = 32 * 1024 * 1024


def _post(client: httpx.Client) -> Post:
    def post(path: str, body: Any) -> Any:
        with client.stream("POST", path, json=body) as response:
            data = read_capped(response, MAX_HISTORY_BYTES, what=path)
            if not response.is_success:
                raise_for_problem(httpx.Response(response.status_code, content=data))
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise CivicError("malformed", f"{path}: the answer is not JSON") from exc

    return post


def _checkpoint(verified: VerifiedHistory) -> dict[str, Any]:
    cp = verified.checkpoint
    return {
        "origin": cp.origin,
        "size": cp.size,
        "root": b64std_encode(cp.root),
        "witnesses": [c.witness.name for c in verified.cosignatures],
    }


@app.command("access-history")
def access_history(
    url: ServerOption = DEFAULT_SERVER,
    key: KeyOption = [],  # noqa: B006 - typer reads the default; it is never mutated
    witness: WitnessOption = None,
    quorum: QuorumOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every access to your data the access log holds, each proven, and proven complete.

    Exit 1 with one error line when the log does not verify or the history is incomplete.
    Without --key the wallet trusts the log key it pinned the first time (the platform's
    advertised key then); with --witness the checkpoint must be cosigned by --quorum of them.
    """
    policy = _policy(witness, quorum)
    wallet = Wallet.open(wallet_dir(), passphrase())
    with server(url) as client:
        advertised = client.get("/access")
        raise_for_problem(advertised)
        try:
            verified = pull_access_history(
                wallet,
                _post(client),
                verifier_key=str(advertised.json()["verifier_key"]),
                trusted_keys=key,
                policy=policy,
            )
        except CivicError:
            if as_json:
                emit({"complete": False, "checkpoint": None, "entries": []}, True)
            raise
    entries = [e.to_json() for e in verified.entries]
    cp = _checkpoint(verified)
    out = {"complete": True, "checkpoint": cp, "entries": entries}

    def human() -> None:
        console.print(
            Text.assemble(
                ("complete", "bold green"),
                f": {len(entries)} accesses about you in {cp['origin']} (tree of {cp['size']},"
                f" witnesses: {', '.join(cp['witnesses']) or 'none'})",
            )
        )
        table = Table("when", "requester", "provider", "purpose", "data", "outcome", "consent")
        for e in entries:
            table.add_row(
                when(e["time"]),
                e["requester"],
                e["provider"],
                e["purpose"],
                ", ".join(e["categories"]),
                e["outcome"] if e["refusal"] is None else f"refused ({e['refusal']})",
                e["consent"] or "-",
            )
        console.print(table)

    emit(out, as_json, human)
