"""``civic registers``: list, show, import, export and verify registers; manage custodians.

``list``, ``show``, ``import``, ``export`` and ``custodians issue|list|revoke|audit`` (custodian
tokens, the admin's work) work on the platform's database (``CIVIC_DATA_DIR``
/ ``CIVIC_DATABASE_URL``), as the running platform sees it. ``verify`` needs no database: it
checks a downloaded RSF file (or the server's download URL, or a register name on ``--server``
/ ``CIVIC_SERVER``) against a signed checkpoint (a file or a URL) with the register's verifier
key, and fetches a consistency proof from the server's tlog-tiles when the checkpoint is newer
than the download.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from civicstack.cli._output import JsonOption, console, emit, err_console
from civicstack.cli._server import DEFAULT_SERVER, ServerOption
from civicstack.errors import CivicError, InputError
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.limits import DEFAULT_LIMITS

app = typer.Typer(
    name="registers",
    help="Registers: browse, import and export RSF, verify downloads against checkpoints.",
    no_args_is_help=True,
)

#: The largest RSF ``verify`` reads (the whole 2021 archive is 3.8 MB). The CLI's own cap:
#: ``verify`` holds the whole download in memory, so it stops at 512 MiB, never above the
#: registers' ``max_rsf_bytes`` (which bounds an RSF input however it is read).
MAX_DOWNLOAD_BYTES = min(512 * 1024 * 1024, DEFAULT_LIMITS.max_rsf_bytes)


def _say(text: str, **kwargs: Any) -> None:
    """One line for people; hashes and keys are never wrapped (they get copied and pasted)."""
    console.print(text, soft_wrap=True, **kwargs)


@contextmanager
def _platform() -> Iterator[Any]:
    """The local platform, migrations applied (CIVIC_DATA_DIR / CIVIC_DATABASE_URL)."""
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    platform = Platform(Settings.from_env())
    try:
        platform.migrate()
        yield platform
    finally:
        platform.close()


@app.command("list")
def list_registers(as_json: JsonOption = False) -> None:
    """List the registers with their sizes."""
    with _platform() as platform:
        rows = [described for _, described in platform.registers.describe_all()]

    def human() -> None:
        if not rows:
            _say("no registers yet (civic up seeds them, or civic registers import)")
        for r in rows:
            mark = " [yellow](synthetic)[/]" if r["synthetic"] else ""
            title = f"  {r['title']}" if r["title"] else ""
            _say(
                f"[bold]{r['name']}[/]{mark}{title}\n"
                f"  {r['records']} records, {r['entries']['user']} entries  {r['root-hash']}"
            )

    emit(rows, as_json, human)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Register name.")],
    as_json: JsonOption = False,
) -> None:
    """Show a register: its definition, fields, sizes, roots and log key."""
    with _platform() as platform:
        registers = platform.registers
        data = registers.describe(registers.head(name), full=True)

    def human() -> None:
        _say(f"[bold]{data['name']}[/]  {data['title'] or ''}")
        if data["text"]:
            _say(f"  {data['text']}", markup=False)
        if data["synthetic"]:
            _say("  [yellow]synthetic data[/]: generated, not real")
        _say(
            f"  {data['records']} records, {data['entries']['user']} user entries,"
            f" {data['entries']['system']} system entries"
        )
        _say(f"  root hash  {data['root-hash']}")
        log = data["log"]
        _say(f"  log        {log['origin']}  size {log['size']}  root {log['root']}")
        _say(f"  key        {log['verifier-key']}")
        _say("  fields:")
        for f in data["fields"]:
            link = f" -> {f['register']}" if f["register"] else ""
            _say(f"    {f['field']} ({f['datatype']}, {f['cardinality']}){link}")
        if data["dangling-links"]:
            _say(f"  {len(data['dangling-links'])} historic dangling links (see --json)")

    emit(data, as_json, human)


class _Counted:
    """A binary file whose reads advance a progress bar."""

    def __init__(self, handle: IO[bytes], advance: Any) -> None:
        self._handle = handle
        self._advance = advance

    def readline(self, limit: int = -1) -> bytes:
        line = self._handle.readline(limit)
        self._advance(len(line))
        return line


@app.command("import")
def import_rsf(
    files: Annotated[list[Path], typer.Argument(help="RSF files (one transaction for all).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Register name (one file; default: file stem).")
    ] = None,
    unsafe_allow_dangling_links: Annotated[
        bool,
        typer.Option(
            "--unsafe-allow-dangling-links",
            help="Accept links that name nothing (only for importing history); they are recorded.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import RSF files: new registers, or patches to existing ones. All or nothing."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    if name is not None and len(files) != 1:
        raise InputError("invalid_request", "--name names one file's register")
    names = [name] if name is not None else [f.stem for f in files]
    if len(set(names)) != len(names):
        raise InputError("invalid_request", "two files for one register")
    total = sum(f.stat().st_size for f in files)
    handles = [f.open("rb") for f in files]
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        console=err_console,
        transient=True,
        disable=as_json or total < 1024 * 1024,
    )
    try:
        with _platform() as platform, progress:
            task = progress.add_task("rsf", total=total)

            def advance(n: int) -> None:
                progress.advance(task, n)

            sources = {n: _Counted(h, advance) for n, h in zip(names, handles, strict=True)}
            try:
                changes = platform.registers.import_rsf(
                    sources, unsafe_allow_dangling_links=unsafe_allow_dangling_links
                )
            except CivicError as exc:
                if exc.code != "dangling_link":
                    raise
                raise CivicError(
                    "dangling_link",
                    f"{exc.detail}; import the registers it links to in the same command"
                    " (civic registers import A.rsf B.rsf ...: one transaction, so links between"
                    " them resolve), or --unsafe-allow-dangling-links to keep history as it was",
                ) from exc
            heads = {n: platform.registers.head(n) for n in changes}
    finally:
        for h in handles:
            h.close()
    data = [
        {
            "name": n,
            "entries": len(c.entries),
            "dangling_links": len(c.dangling_links),
            "orphan_items": len(c.orphan_items),
            "size": heads[n].size,
            "root-hash": "sha-256:" + heads[n].root.hex(),
        }
        for n, c in sorted(changes.items())
    ]

    def human() -> None:
        for d in data:
            extra = (
                f", {d['dangling_links']} dangling links recorded" if d["dangling_links"] else ""
            )
            _say(f"[green]imported[/] {d['name']}: {d['entries']} entries{extra}  {d['root-hash']}")

    emit(data, as_json, human)


@app.command("export")
def export(name: Annotated[str, typer.Argument(help="Register name.")]) -> None:
    """Write the register as RSF to standard output, ending with assert-root-hash."""
    with _platform() as platform:
        out = sys.stdout
        try:
            for chunk in platform.registers.export_rsf(name):
                out.write(chunk)
            out.flush()
        except BrokenPipeError:
            # The reader stopped (`| head`): end quietly, as cat does. Standard output is
            # pointed at /dev/null so the interpreter's last flush finds no broken pipe.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            os.close(devnull)


def _fetch(url: str, limit: int) -> bytes:
    from civicstack.cli.log import _http_get

    return _http_get(url, limit)


def _read(source: str, limit: int) -> bytes:
    """A file, ``-`` or an http(s) URL, at most ``limit`` bytes."""
    if source.startswith(("http://", "https://")):
        return _fetch(source, limit)
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


def _is_register_name(source: str) -> bool:
    """Whether ``source`` names a register on the server rather than a file, ``-`` or a URL."""
    return NAME_RE.fullmatch(source) is not None and not Path(source).exists()


def _register_url(source: str) -> str | None:
    """``http://host/registers/NAME`` for a download URL ``.../registers/NAME/download-rsf``."""
    if source.startswith(("http://", "https://")) and source.endswith("/download-rsf"):
        return source.removesuffix("/download-rsf")
    return None


@app.command("verify")
def verify(
    source: Annotated[
        str,
        typer.Argument(
            help="The RSF: a file, -, the server's .../download-rsf URL, or a register name"
            " on --server."
        ),
    ],
    *,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint", help="Signed checkpoint: file or URL (default: the server's)."
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The register's verifier key (default: the server's)."),
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option("--tiles", help="tlog-tiles URL prefix for a consistency proof."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Expected register name.")] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="Expected log origin.")] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Recompute a register's roots from its RSF and check them against a signed checkpoint.

    With a download URL the checkpoint, key and tiles default to the same server's; give --key
    (from a source you trust) to make the check independent of that server.
    """
    import orjson

    from civicstack.log import DEFAULT_LIMITS as LOG_LIMITS
    from civicstack.log import NoteVerifier, prove_consistency
    from civicstack.log.note import b64std_encode
    from civicstack.log.tiles import FetchedTiles
    from civicstack.registers.verify import verify_download

    if _is_register_name(source):
        source = f"{server_url.rstrip('/')}/registers/{source}/download-rsf"
    base = _register_url(source)
    if checkpoint is None:
        if base is None:
            raise InputError("invalid_request", "give --checkpoint (a file or URL)")
        checkpoint = f"{base}/checkpoint"
    trusted_on_first_use = False
    if key is None:
        if base is None:
            raise InputError("invalid_request", "give the register's verifier --key")
        summary = orjson.loads(_fetch(base, 1024 * 1024))
        key = str(summary["log"]["verifier-key"])
        trusted_on_first_use = True
    if tiles is None and base is not None:
        tiles = f"{base}/log"
    note = _read(checkpoint, LOG_LIMITS.note_bytes)
    rsf = _read(source, MAX_DOWNLOAD_BYTES)

    def consistency(size1: int, size2: int) -> list[bytes]:
        if tiles is None:
            raise InputError("proof_out_of_range", "the checkpoint is newer: give --tiles")
        prefix = tiles.rstrip("/")
        fetched = FetchedTiles(lambda path: _fetch(f"{prefix}/{path}", 1024 * 1024))
        return prove_consistency(size1, size2, fetched)

    result = verify_download(
        rsf,
        note,
        [NoteVerifier.parse(key)],
        name=name,
        origin=origin,
        consistency=consistency,
    )
    data = {
        "verified": True,
        "register": result.name,
        "records": result.records,
        "size": result.size,
        "root-hash": "sha-256:" + result.root_hash.hex(),
        "log-root": b64std_encode(result.log_root),
        "checkpoint": {
            "origin": result.checkpoint.origin,
            "size": result.checkpoint.size,
            "root": b64std_encode(result.checkpoint.root),
        },
        "method": result.method,
        "unresolved-links": result.unresolved_links,
        "key": key,
        "key-from-server": trusted_on_first_use,
    }

    def human() -> None:
        cp = result.checkpoint
        _say(
            f"[green]verified[/]: {result.name}, {result.size} entries"
            f" ({result.records} records) under the checkpoint of {cp.size} signed by {cp.origin}"
        )
        _say(f"  root hash  {data['root-hash']}  (RSF assert-root-hash)")
        _say(f"  log root   {data['log-root']}  ({result.method})")
        if result.unresolved_links:
            _say(f"  {result.unresolved_links} links to other registers not checked")
        if trusted_on_first_use:
            err_console.print(
                f"note: the key came from the same server; pin it with --key {key}",
                markup=False,
                soft_wrap=True,
            )

    emit(data, as_json, human)


custodians = typer.Typer(
    name="custodians",
    help="Custodian tokens: issue, list, revoke, and read their audit trail (the admin's).",
    no_args_is_help=True,
)
app.add_typer(custodians)


def _operator() -> str:
    """Who runs the command, as the audit trail records it (``cli:<user>``)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:128]
    except (KeyError, OSError):
        return "cli"


def _when(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_line(t: dict[str, Any]) -> str:
    from rich.markup import escape

    expires = "never" if t["expires_at"] is None else _when(t["expires_at"])
    return (
        f"[bold]{t['id']}[/]  {t['register']}  {t['state']}  expires {expires}"
        f"  [dim]{escape(t['label'])}[/]"
    )


@custodians.command("issue")
def issue_custodian(
    name: Annotated[str, typer.Argument(help="The register the token writes.")],
    label: Annotated[str, typer.Option("--label", help="What the token is for (1-128).")],
    expires_in: Annotated[
        int | None,
        typer.Option(
            "--expires-in",
            help="Seconds until it stops writing (default: CIVIC_CUSTODIAN_TOKEN_LIFETIME).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a custodian token for a register; the secret is printed once, never kept."""
    with _platform() as platform:
        now = platform.clock.now()
        secret, token = platform.registers.issue_custodian(
            name, label=label, now=now, expires_in=expires_in, actor=_operator()
        )
        data = {**token.to_json(now), "token": secret}

    def human() -> None:
        _say(_token_line(data))
        _say(f"  token  {secret}  (shown once: keep it now)", markup=False)

    emit(data, as_json, human)


@custodians.command("list")
def list_custodians(
    name: Annotated[
        str | None, typer.Argument(help="Only this register's tokens (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List custodian tokens (never their secrets) with their state."""
    with _platform() as platform:
        now = platform.clock.now()
        rows = [t.to_json(now) for t in platform.registers.custodian_tokens(name)]

    def human() -> None:
        if not rows:
            _say("no custodian tokens")
        for t in rows:
            _say(_token_line(t))

    emit(rows, as_json, human)


@custodians.command("revoke")
def revoke_custodian(
    token_id: Annotated[str, typer.Argument(help="The token's id (ct_...).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a custodian token: its next write is refused, by every server process."""
    with _platform() as platform:
        now = platform.clock.now()
        token = platform.registers.revoke_custodian_token(token_id, now=now, actor=_operator())
        data = token.to_json(now)

    def human() -> None:
        _say(f"[green]revoked[/] {_token_line(data)}")

    emit(data, as_json, human)


@custodians.command("audit")
def audit_custodians(
    register: Annotated[
        str | None, typer.Option("--register", help="Only this register's tokens.")
    ] = None,
    token_id: Annotated[str | None, typer.Option("--token", help="Only this token.")] = None,
    after: Annotated[int, typer.Option("--after", help="Events after this number.")] = 0,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000).")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The custodian tokens' audit trail: issued, revoked, writes refused (oldest first)."""
    with _platform() as platform:
        rows = [
            e.to_json()
            for e in platform.registers.custodian_events(
                register=register, token_id=token_id, after=after, limit=limit
            )
        ]

    def human() -> None:
        if not rows:
            _say("no events")
        for e in rows:
            _say(
                f"{e['seq']:>6}  {_when(e['at'])}  {e['event']:<16} {e['token']}"
                f"  {e['register']}  by {e['actor']}",
                markup=False,
            )

    emit(rows, as_json, human)
