"""Completed logins per second through one login's code flow, against panva's ``oidc-provider``.

A *login* is what a relying party's browser and backend do for a citizen who is already signed
in at the provider (an SSO session): ``GET /authorize`` with a fresh PKCE S256 challenge,
``state`` and ``nonce``, the 303 back with a code, then ``POST /token`` with
``client_secret_basic`` and the verifier, answered with an access token and a signed ID token.
``--clients`` closed-loop clients (default 16), each one keep-alive HTTP/1.1 connection, share
the one session; the figures are completed logins/s over the window and the p50 and p99 of a
login's two round trips. The clients write their requests and frame the responses by hand on
uvloop (:mod:`bench._load`'s framing), sending the session's cookies as httpx would from its
jar: through httpx the load generator cost more CPU per login (2.6 ms) than either provider, so
on a shared machine the figures measured the generator.

Peer: panva's ``oidc-provider`` (npm, the most used certified OpenID Provider), installed into
``bench/_peers/oidc-provider`` on first use and run with Node: one process, its default
in-memory adapter (it keeps codes, sessions and grants in memory), PKCE required, ES256 ID
tokens, the same client registration, the session made once through its dev interactions (login
and consent). civicstack runs as ``civic up --workers 1`` (one process, uvloop) on SQLite: its
codes are sealed (AES-256-GCM under a key derived from the master key) and kept by nobody, so
``/authorize`` writes nothing; each redemption is written, with its access token (sealed), in
one committed transaction before ``/token`` answers; its session is on SQLite too (sealed),
made once by a wallet presentation (Amara's PID, the demo world). Both are measured in the same
run with the same load generator, clients, warm-up and window.

``--presentations N`` also times N sign-ins with a wallet presentation each (the sign-in page,
the wallet's OpenID4VP answer with its key-binding JWT, continue, token), ``--clients`` at a
time; the peer has no wallet, so that figure has no ratio.

    .venv/bin/python bench/login.py [--clients 16] [--seconds 10] [--warmup 2] [--presentations 0]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._load import MAX_HEAD, event_loop_name, header, read_message, run
from bench._load import ProtocolError as LoadProtocolError

ROOT = Path(__file__).resolve().parent
PEER_DIR = ROOT / "_peers" / "oidc-provider"
PEER_VERSION = "9.13.3"
REDIRECT = "http://127.0.0.1:9/cb"
SECRET = "bench-secret-" + "x" * 32

PEER_SERVER = """
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.argv[2]);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'bench',
    client_secret: process.argv[3],
    redirect_uris: [process.argv[4]],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: { devInteractions: { enabled: true } },
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
"""


def free_port() -> int:
    """A free loopback TCP port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Return once ``url`` answers, or fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}) before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout}s")


@contextmanager
def peer() -> Iterator[str]:
    """oidc-provider in a Node process; its base URL."""
    if not (PEER_DIR / "node_modules" / "oidc-provider").exists():
        PEER_DIR.mkdir(parents=True, exist_ok=True)
        (PEER_DIR / "package.json").write_text('{"private": true, "type": "module"}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"oidc-provider@{PEER_VERSION}"],
            cwd=PEER_DIR,
            check=True,
        )
    (PEER_DIR / "server.mjs").write_text(PEER_SERVER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NODE_ENV": "production"}
    process = subprocess.Popen(
        ["node", "server.mjs", str(port), SECRET, REDIRECT],
        cwd=PEER_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{base}/.well-known/openid-configuration", process)
        yield base
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def civicstack(data_dir: Path) -> Iterator[str]:
    """``civic up --workers 1`` on SQLite in ``data_dir``; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CIVIC_DATA_DIR": str(data_dir), "CIVIC_BASE_URL": base}
    civic = Path(sys.executable).parent / "civic"
    process = subprocess.Popen(
        [str(civic), "up", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{base}/healthz", process)
        yield base
    finally:
        process.terminate()
        process.wait(30)


# --- the flows -----------------------------------------------------------------------------


@dataclass
class Provider:
    """One provider under test: where its endpoints are and how the client authenticates."""

    name: str
    authorize: str
    token: str
    client_id: str
    client_secret: str
    cookies: httpx.Cookies = field(default_factory=httpx.Cookies)


def pkce() -> tuple[str, str]:
    """A fresh verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(op: Provider, challenge: str, state: str) -> str:
    """The authorization request."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": op.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": state,
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{op.authorize}?{query}"


def code_of(location: str, state: str) -> str:
    """The code a redirect to the client carries (its state checked)."""
    query = parse_qs(urlsplit(location).query)
    if query.get("state") != [state] or "code" not in query:
        raise RuntimeError(f"no code in {location[:200]}")
    return query["code"][0]


def basic(op: Provider) -> str:
    """The client's Basic credentials."""
    return "Basic " + base64.b64encode(f"{op.client_id}:{op.client_secret}".encode()).decode()


@dataclass(frozen=True)
class Wire:
    """What a client of one provider sends, built once: where, and the session's cookies."""

    host: str
    port: int
    authorize: str  # the path
    token: str
    headers: bytes  # Host and Cookie, as httpx would send them from the session's cookie jar
    basic: str

    @classmethod
    def of(cls, op: Provider) -> Wire:
        """The wire form of ``op``'s two requests."""
        url = urlsplit(op.authorize)
        with httpx.Client(cookies=op.cookies) as http:
            cookie = http.build_request("GET", op.authorize).headers.get("cookie")
        headers = f"Host: {url.netloc}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "")
        return cls(
            url.hostname or "127.0.0.1",
            url.port or 80,
            url.path,
            urlsplit(op.token).path,
            headers.encode("latin-1"),
            basic(op),
        )


async def one_login(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, op: Provider, wire: Wire
) -> bool:
    """A login with the SSO session: authorize, code, token; whether the connection stays."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(12)
    query = urlsplit(authorization_url(op, challenge, state)).query
    writer.write(f"GET {wire.authorize}?{query} HTTP/1.1\r\n".encode() + wire.headers + b"\r\n")
    status, head, _, keep = await read_message(reader)
    location = header(head, b"location")
    if status != 303 or location is None:
        raise RuntimeError(f"authorize: {status}")
    code = code_of(location.decode("latin-1"), state)
    form = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
    ).encode()
    writer.write(
        f"POST {wire.token} HTTP/1.1\r\n".encode()
        + wire.headers
        + f"Authorization: {wire.basic}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )
    status, _, body, keep_token = await read_message(reader)
    if status != 200 or "id_token" not in json.loads(body):
        raise RuntimeError(f"token: {status} {body[:200]!r}")
    return keep and keep_token


@dataclass
class Result:
    """Completed logins, errors and latencies over the window."""

    done: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Completed logins per second."""
        return self.done / self.seconds

    def quantile(self, q: float) -> float:
        """A latency quantile in milliseconds."""
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def measure(op: Provider, clients: int, seconds: float, warmup: float) -> Result:
    """``clients`` closed loops of logins; the window's completed logins."""
    wire = Wire.of(op)
    start = time.monotonic() + warmup
    end = start + seconds
    done = errors = 0
    latencies: list[float] = []

    async def loop() -> None:
        nonlocal done, errors
        writer: asyncio.StreamWriter | None = None
        try:
            while (began := time.monotonic()) < end:
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(
                            wire.host, wire.port, limit=MAX_HEAD
                        )
                    if not await one_login(reader, writer, op, wire):
                        writer.close()
                        writer = None
                except (OSError, EOFError, LoadProtocolError, RuntimeError, ValueError):
                    if writer is not None:
                        writer.close()
                        writer = None
                    if began >= start:
                        errors += 1
                    continue
                if began >= start:
                    done += 1
                    latencies.append(time.monotonic() - began)
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(loop() for _ in range(clients)))
    return Result(done, errors, seconds, latencies)


# --- setting up each provider's session ------------------------------------------------------


def peer_session(base: str) -> Provider:
    """oidc-provider's session: one login and consent through its dev interactions."""
    op = Provider("oidc-provider", f"{base}/auth", f"{base}/token", "bench", SECRET)
    verifier, challenge = pkce()
    state = "setup"
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http:
        r = http.get(authorization_url(op, challenge, state))
        for prompt in ("login", "consent"):  # each: the interaction page, its form, resume
            interaction = r.headers["location"]
            http.get(interaction)
            r = http.post(interaction, data={"prompt": prompt, "login": "amara"})
            r = http.get(r.headers["location"])
        code_of(r.headers["location"], state)
        op.cookies = httpx.Cookies(http.cookies)
    del verifier
    return op


def civic_session(base: str, data_dir: Path) -> tuple[Provider, Callable[[], Provider]]:
    """civicstack's client (registered with the admin token for HMRC) and its session, made by
    one wallet presentation; and a maker of fresh wallets for the presentation run."""
    from civicstack._crypto import PublicKey
    from civicstack.credential_types import PID_VCT
    from civicstack.demo.story import AMARA
    from civicstack.fetch import HttpTransport
    from civicstack.platform import Platform
    from civicstack.settings import Settings
    from civicstack.testing import FAST_KDF
    from civicstack.wallet import Wallet
    from civicstack.wallet import openid4vp as wallet_vp

    admin = (data_dir / "admin-token").read_text().strip()
    reg = httpx.post(
        f"{base}/oidc/register",
        json={"organisation": "hmrc", "redirect_uris": [REDIRECT]},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    ).json()
    op = Provider(
        "civicstack",
        f"{base}/oidc/authorize",
        f"{base}/oidc/token",
        reg["client_id"],
        reg["client_secret"],
    )
    platform = Platform(
        Settings.from_env({"CIVIC_DATA_DIR": str(data_dir), "CIVIC_BASE_URL": base})
    )
    wallets = iter(range(1_000_000))

    def presenter() -> Callable[[str], None]:
        wallet = Wallet.create(data_dir / f"wallet-{next(wallets)}", "pass", kdf=FAST_KDF)
        registry = platform.trust_registry()
        issued = platform.authorities.issue(
            "passport-office",
            vct=PID_VCT,
            claims=AMARA,
            holder=PublicKey.from_jwk(wallet.holder_key.to_jwk()),
        )
        wallet.add_credential(issued.credential, trust=registry)

        def present(link: str) -> None:
            transport = HttpTransport()
            try:
                received = wallet_vp.receive(
                    link, transport=transport, registry=registry, now=int(time.time())
                )
                wallet_vp.answer(
                    wallet, received, registry=registry, consent=lambda _: True,
                    transport=transport,
                )  # fmt: skip
            finally:
                transport.close()

        return present

    def signed_in(present: Callable[[str], None]) -> Provider:
        fresh = Provider(op.name, op.authorize, op.token, op.client_id, op.client_secret)
        verifier, challenge = pkce()
        with httpx.Client(follow_redirects=False, timeout=60) as http:
            r = http.get(authorization_url(op, challenge, "setup"))
            login = r.headers["location"]
            page = http.get(login).text
            link = html.unescape(re.search(r'id="wallet-link" href="([^"]+)"', page).group(1))
            csrf = html.unescape(re.search(r'name="csrf" value="([^"]+)"', page).group(1))
            present(link)
            done = http.post(login, data={"csrf": csrf})
            code = code_of(done.headers["location"], "setup")
            t = http.post(
                op.token,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "code_verifier": verifier,
                },
                headers={"Authorization": basic(op)},
            )
            if t.status_code != 200:
                raise RuntimeError(t.text)
            fresh.cookies = httpx.Cookies(http.cookies)
        return fresh

    first = signed_in(presenter())
    return first, lambda: signed_in(presenter())


def presentations(make: Callable[[], Provider], count: int, clients: int) -> Result:
    """``count`` sign-ins with a wallet presentation each, ``clients`` at a time."""
    latencies: list[float] = []

    def one(_: int) -> None:
        began = time.monotonic()
        make()
        latencies.append(time.monotonic() - began)

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    return Result(count, 0, time.monotonic() - began, latencies)


def main() -> None:
    """Run both providers and print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--presentations", type=int, default=0)
    args = parser.parse_args()
    rows: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp, civicstack(Path(tmp)) as base:
        op, fresh = civic_session(base, Path(tmp))
        rows["civicstack"] = run(measure(op, args.clients, args.seconds, args.warmup))
        if args.presentations:
            shown = presentations(fresh, args.presentations, args.clients)
    with peer() as base:
        op = peer_session(base)
        rows["oidc-provider"] = run(measure(op, args.clients, args.seconds, args.warmup))
    print(f"logins with an SSO session, {args.clients} clients, {args.seconds:.0f} s window")
    print(f"{'provider':<16}{'logins/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in rows.items():
        print(f"{name:<16}{r.rate:>10.1f}{r.quantile(0.5):>9.1f}{r.quantile(0.99):>9.1f}"
              f"{r.errors:>8}")  # fmt: skip
    ratio = rows["civicstack"].rate / max(rows["oidc-provider"].rate, 1e-9)
    print(f"civicstack / oidc-provider {PEER_VERSION}: {ratio:.2f}x")
    print(
        "configuration: civic up --workers 1 (uvicorn, uvloop, SQLite; codes sealed and "
        "stateless, each redemption and its access token committed before /token answers, "
        "sessions sealed); oidc-provider in one Node process, in-memory adapter; clients: "
        f"raw HTTP/1.1 keep-alive on {event_loop_name()}"
    )
    if args.presentations:
        print(
            f"sign-ins with a wallet presentation: {shown.rate:.1f}/s "
            f"(p50 {shown.quantile(0.5):.0f} ms, p99 {shown.quantile(0.99):.0f} ms; no peer)"
        )


if __name__ == "__main__":
    main()
