"""ACA-Py 1.7.0 as a benchmark peer: installed, started, given a workload, and stopped.

ACA-Py (``acapy-agent`` on PyPI, the OpenWallet Foundation's Aries Cloud Agent Python) needs
Python >= 3.13, so it lives in its own virtual environment under ``bench/_peers/acapy-venv``
(git-ignored), created once with the first Python 3.13+ found and kept while it still holds
1.7.0. The agent runs as a child process: askar wallet (SQLite) in a temporary ``ACAPY_HOME``,
no ledger, an HTTP inbound transport it never uses (``aca-py start`` requires one), and its
admin API on a free loopback port behind a random ``X-API-Key``, logging errors only.

The workload mirrors bench/credentials.py, as close as ACA-Py's admin API allows:

1. ``POST /wallet/did/create`` ``{"method": "key", "options": {"key_type": "p256"}}`` (or
   ``ed25519`` for EdDSA) makes the issuer's ``did:key`` in ACA-Py's wallet;
2. ``POST /wallet/sd-jwt/sign`` signs the same 12-claim PID (``typ`` ``dc+sd-jwt``, ``vct``,
   ``iat``/``exp``, the holder's key as ``cnf.jwk``), each of the 12 claims selectively
   disclosable and nothing below them (``non_sd_list`` names ``vct`` and the nested members,
   which ACA-Py would otherwise make disclosable too), except ``issuing_country``, which
   ACA-Py always leaves in the clear (see :data:`CLAIMS_NEVER_SD`); it adds no decoy digests;
3. the holder side is civicstack's wallet code (ACA-Py has no SD-JWT presentation endpoint):
   ``present_credential`` discloses only ``age_over_18`` and appends a KB-JWT (``aud``,
   ``nonce``, ``iat``, ``sd_hash``) signed with the ``cnf`` key;
4. ``POST /wallet/sd-jwt/verify`` ``{"sd_jwt": presentation}`` is the request under load; it
   answers 200 with ``valid``, the issuer JWT's header and payload, the ``kid`` and the
   decoded disclosures, and the benchmark counts a success only when ``valid`` is true and
   ``age_over_18`` is among the disclosures.

What that endpoint checks, read from acapy_agent/wallet/routes.py and wallet/sd_jwt.py in
1.7.0 and confirmed by :func:`probe_checks` on every run: the route calls
``sd_jwt_verify(profile, sd_jwt)`` without ``expected_aud``/``expected_nonce``, so the KB-JWT
is never verified; the issuer JWT's signature is checked against the key its ``kid`` (a DID
URL) resolves to; each Disclosure is hashed and decoded, but none is matched against the
payload's ``_sd`` digests (the sd-jwt library's ``_extract_sd_claims`` is never called), and
``exp``/``nbf`` are not checked. A bad issuer signature still answers 200, with
``"valid": false``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from bench._load import Request, process_tree_cpu

from civicstack._crypto import Alg, PrivateKey, b64url_encode, json_dumps, sign_compact
from civicstack.credential_types import PID_VCT
from civicstack.credentials import present_credential
from civicstack.sdjwt import KB_TYP, make_disclosure, sd_hash

ACAPY_VERSION = "1.7.0"
REQUIRES_PYTHON = (3, 13)  # acapy-agent 1.7.0's Requires-Python
PEERS = Path(__file__).resolve().parent / "_peers"
VENV = PEERS / "acapy-venv"
AUD, NONCE = "https://shop.example", "nonce-0123456789"
VERIFY_PATH = "/wallet/sd-jwt/verify"
# The PID's nested members: plain inside their disclosable parents, as in our issuer's PID.
NON_SD = [
    "vct",
    "address.street_address",
    "address.locality",
    "address.postal_code",
    "address.country",
    "nationalities[0]",
]

# acapy_agent/wallet/sd_jwt.py create_json_paths skips every key that *starts with* one of
# these (str.startswith on a tuple), so ACA-Py never makes ``issuing_country`` disclosable.
CLAIMS_NEVER_SD = ("iss", "iat", "exp", "cnf")

Log = Callable[[str], None]


def acapy_disclosable(pid: dict[str, Any]) -> list[str]:
    """The PID's claims that ACA-Py's ``/wallet/sd-jwt/sign`` makes selectively disclosable."""
    return [name for name in pid if not name.startswith(CLAIMS_NEVER_SD)]


class PeerUnavailableError(Exception):
    """ACA-Py cannot be installed or run here; the message says exactly why."""


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]), int(out[1])


def find_python() -> str:
    """A Python >= 3.13 to build ACA-Py's environment with (``ACAPY_PYTHON`` first)."""
    candidates = [
        os.environ.get("ACAPY_PYTHON"),
        shutil.which("python3.13"),
        shutil.which("python3.14"),
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[3-9]*/bin/python3")),
        "/root/.pyenv/versions/3.13.0/bin/python3.13",
    ]
    tried = []
    for python in candidates:
        if not python or python in tried:
            continue
        tried.append(python)
        version = _python_version(python)
        if version is not None and version >= REQUIRES_PYTHON:
            return python
    raise PeerUnavailableError(
        f"ACA-Py {ACAPY_VERSION} needs Python >= 3.13 and none was found "
        f"(tried {', '.join(tried) or 'nothing'}; set ACAPY_PYTHON)"
    )


def ensure_installed(log: Log) -> Path:
    """ACA-Py's venv, created and installed on first use; returns its ``aca-py`` script.

    uvloop goes in too: ``aca-py start`` installs it as the event loop whenever it can import
    it (acapy_agent/commands/start.py), its fastest configuration, and civicstack's uvicorn
    runs on uvloop as well.
    """
    script = VENV / "bin" / "aca-py"
    stamp = VENV / f".installed-acapy-agent-{ACAPY_VERSION}"
    if stamp.exists() and script.exists():
        _ensure_uvloop(log)
        return script
    python = find_python()
    log(f"installing acapy-agent=={ACAPY_VERSION} into {VENV} with {python} (once)")
    PEERS.mkdir(exist_ok=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    steps = [
        [python, "-m", "venv", "--clear", str(VENV)],
        [*pip, "--disable-pip-version-check", f"acapy-agent=={ACAPY_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise PeerUnavailableError(f"{' '.join(step[:4])}... failed:\n{tail}")
    _ensure_uvloop(log)
    stamp.write_text(installed_versions() + "\n")
    return script


def _ensure_uvloop(log: Log) -> None:
    python = str(VENV / "bin" / "python")
    probe = subprocess.run([python, "-c", "import uvloop"], capture_output=True, check=False)
    if probe.returncode == 0:
        return
    log(f"installing uvloop into {VENV} (ACA-Py's fastest event loop, once)")
    step = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uvloop"]
    done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PeerUnavailableError(f"installing uvloop for ACA-Py failed:\n{tail}")


def installed_versions() -> str:
    """The versions that matter in ACA-Py's venv: Python, acapy-agent, askar, sd-jwt."""
    code = (
        "import sys, importlib.metadata as m; print('Python %d.%d.%d' % sys.version_info[:3], "
        "*(f'{n} {m.version(n)}' for n in ('acapy-agent', 'aries-askar', 'sd-jwt', 'uvloop')), "
        "sep=', ')"
    )
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise PeerUnavailableError(f"ACA-Py's venv is broken: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AcaPyAgent:
    """One running ``aca-py start`` with its admin API on loopback."""

    def __init__(self, script: Path, workdir: Path) -> None:
        self.script, self.workdir = script, workdir
        self.admin_port = _free_port()
        self.api_key = secrets.token_urlsafe(24)
        self.base = f"http://127.0.0.1:{self.admin_port}"
        self.log_path = workdir / "aca-py.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(
            base_url=self.base, headers={"X-API-Key": self.api_key}, timeout=30
        )

    def start(self, timeout: float = 120) -> None:
        """Start the agent and wait until ``/status/ready`` says so."""
        inbound = _free_port()
        command = [
            str(self.script), "start",
            "--inbound-transport", "http", "127.0.0.1", str(inbound),
            "--outbound-transport", "http",
            "--endpoint", f"http://127.0.0.1:{inbound}",
            "--admin", "127.0.0.1", str(self.admin_port),
            "--admin-api-key", self.api_key,
            "--no-ledger",
            "--wallet-type", "askar",
            "--wallet-name", "bench",
            "--wallet-key", secrets.token_urlsafe(24),
            "--auto-provision",
            "--log-level", "error",
        ]  # fmt: skip
        env = {**os.environ, "ACAPY_HOME": str(self.workdir)}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PeerUnavailableError(
                    f"aca-py exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            with suppress(httpx.HTTPError):
                if self.client.get("/status/ready").json().get("ready") is True:
                    return
            if time.monotonic() > deadline:
                raise PeerUnavailableError(
                    f"aca-py not ready after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the agent's log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``body`` (or GET without one) to the admin API; the JSON answer."""
        response = self.client.get(path) if body is None else self.client.post(path, json=body)
        if response.status_code != 200:
            raise PeerUnavailableError(
                f"{path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def verify_status(self, presentation: str) -> tuple[int, Any]:
        """``POST /wallet/sd-jwt/verify``: (HTTP status, JSON body or text)."""
        response = self.client.post(VERIFY_PATH, json={"sd_jwt": presentation})
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def version(self) -> str:
        """The version the running agent reports on ``/status``."""
        return str(self.call("/status").get("version"))

    def cpu_seconds(self) -> float:
        """The agent's CPU time so far (user + system, every thread and child), from /proc."""
        assert self.proc is not None
        return process_tree_cpu(self.proc.pid)

    def stop(self) -> int | None:
        """Stop the agent (SIGTERM, then SIGKILL after 20 s); its exit code."""
        self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@contextmanager
def running_acapy(log: Log) -> Iterator[AcaPyAgent]:
    """Install if needed, start ACA-Py in a temporary home, yield it, always stop it."""
    script = ensure_installed(log)
    with tempfile.TemporaryDirectory(prefix="acapy-bench-") as home:
        agent = AcaPyAgent(script, Path(home))
        try:
            agent.start()
            yield agent
        finally:
            agent.stop()


@dataclass(frozen=True)
class AcaPyWorkload:
    """The presentation ACA-Py verifies, and the HTTP request that asks it to."""

    alg: Alg
    issuer_did: str
    credential: str  # the SD-JWT ACA-Py issued, every Disclosure included
    presentation: str  # SD-JWT+KB disclosing only age_over_18
    holder: PrivateKey
    request: Request
    now: int

    @staticmethod
    def check(body: bytes) -> bool:
        """A verify answer is a success when ``valid`` and ``age_over_18`` was disclosed."""
        answer = orjson.loads(body)
        disclosed = answer.get("disclosures") or []
        return answer.get("valid") is True and any(
            len(d) == 3 and d[1] == "age_over_18" and d[2] is True for d in disclosed
        )


def prepare_workload(agent: AcaPyAgent, pid: dict[str, Any], alg: Alg) -> AcaPyWorkload:
    """Issue the PID with ACA-Py, present it with civicstack's holder code, check it verifies."""
    key_type = {"ES256": "p256", "EdDSA": "ed25519"}[alg]
    did = agent.call("/wallet/did/create", {"method": "key", "options": {"key_type": key_type}})
    issuer_did = did["result"]["did"]
    holder = PrivateKey.generate(alg)
    now = int(time.time())
    payload = {
        "iss": issuer_did,
        "iat": now,
        "exp": now + 365 * 86_400,
        "vct": PID_VCT,
        "cnf": {"jwk": holder.public_key.to_jwk()},
        **pid,
    }
    credential = agent.call(
        "/wallet/sd-jwt/sign",
        {"did": issuer_did, "headers": {"typ": "dc+sd-jwt"}, "payload": payload,
         "non_sd_list": NON_SD},
    )  # fmt: skip
    disclosures = credential.split("~")[1:-1]
    expected = len(acapy_disclosable(pid))
    if len(disclosures) != expected:
        raise PeerUnavailableError(f"ACA-Py made {len(disclosures)} disclosures, not {expected}")
    presentation = present_credential(
        credential, disclose=["age_over_18"], holder=holder, aud=AUD, nonce=NONCE, now=now
    )
    request = Request(
        "POST",
        VERIFY_PATH,
        {"Content-Type": "application/json", "X-API-Key": agent.api_key},
        orjson.dumps({"sd_jwt": presentation}),
    )
    workload = AcaPyWorkload(alg, issuer_did, credential, presentation, holder, request, now)
    status, answer = agent.verify_status(presentation)
    if status != 200 or not workload.check(orjson.dumps(answer)):
        raise PeerUnavailableError(f"ACA-Py did not verify its own credential: {status} {answer}")
    return workload


def _kb(holder: PrivateKey, sd_jwt: str, *, aud: str, nonce: str, iat: int) -> str:
    payload = {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_hash(sd_jwt)}
    return sign_compact(holder, json_dumps(payload), {"typ": KB_TYP})


def probe_checks(agent: AcaPyAgent, workload: AcaPyWorkload, pid: dict[str, Any]) -> list[str]:
    """Send presentations that a full RFC 9901 verifier must refuse; say what ACA-Py does.

    civicstack's verifier refuses each of these (tests/unit/test_bad_presentations.py).
    """
    issuer_jwt, *disclosures, _ = workload.presentation.split("~")
    head, body, signature = issuer_jwt.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    sd = issuer_jwt + "~" + "".join(d + "~" for d in disclosures)
    stranger = PrivateKey.generate(workload.alg)
    # A Disclosure that no digest in the payload references (RFC 9901 §7.1 step 3.5.4).
    forged = make_disclosure(b64url_encode(secrets.token_bytes(16)), "age_over_21", True)
    sd_forged = sd + forged.encoded + "~"
    # The same PID signed by ACA-Py again, but expired an hour ago.
    expired_payload = {
        "iss": workload.issuer_did, "iat": workload.now - 7200, "exp": workload.now - 3600,
        "vct": PID_VCT, "cnf": {"jwk": workload.holder.public_key.to_jwk()}, **pid,
    }  # fmt: skip
    expired = agent.call(
        "/wallet/sd-jwt/sign",
        {"did": workload.issuer_did, "headers": {"typ": "dc+sd-jwt"},
         "payload": expired_payload, "non_sd_list": NON_SD},
    )  # fmt: skip
    expired_presented = present_credential(
        expired, disclose=["age_over_18"], holder=workload.holder, aud=AUD, nonce=NONCE,
        now=workload.now,
    )  # fmt: skip
    cases = {
        "issuer signature altered": f"{head}.{body}.{flipped}~" + "".join(
            d + "~" for d in disclosures) + workload.presentation.rsplit("~", 1)[1],
        "no KB-JWT at all": sd,
        "KB-JWT by a key other than cnf": sd + _kb(
            stranger, sd, aud=AUD, nonce=NONCE, iat=workload.now),
        "KB-JWT for another aud and nonce": sd + _kb(
            workload.holder, sd, aud="https://elsewhere.example", nonce="other",
            iat=workload.now),
        "KB-JWT over another sd_hash": sd + _kb(
            workload.holder, sd + "x", aud=AUD, nonce=NONCE, iat=workload.now),
        "unreferenced Disclosure added": sd_forged + _kb(
            workload.holder, sd_forged, aud=AUD, nonce=NONCE, iat=workload.now),
        "expired credential (exp 1 h ago)": expired_presented,
    }  # fmt: skip
    lines = []
    for name, presentation in cases.items():
        status, answer = agent.verify_status(presentation)
        if status == 200 and isinstance(answer, dict) and answer.get("valid") is True:
            extra = ""
            if name.startswith("unreferenced"):
                names = [d[1] for d in answer.get("disclosures", []) if len(d) == 3]
                extra = f", disclosures returned: {names}"
            outcome = f"ACCEPTED (200, valid: true{extra})"
        elif status == 200 and isinstance(answer, dict):
            outcome = "refused (200, valid: false)"
        else:
            outcome = f"refused (HTTP {status})"
        lines.append(f"{name:34} {outcome}")
    return lines
