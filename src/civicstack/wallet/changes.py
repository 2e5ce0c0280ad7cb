"""The wallet's side of tell us once: report a change, signed by the citizen.

The wallet takes a nonce from the platform's change service, presents its PID to it (disclosing
:data:`CITIZEN_CLAIMS`, and an officer's names and birthdate too for a company's registered
office) and signs the change (``civicstack-change+jwt``) with the key that PID is bound to.
``civic wallet report-change`` and the web wallet both report through :func:`report_change`;
each shows its screen (:func:`disclosed_for`) before calling it.
"""

from __future__ import annotations

from typing import Any

from civicstack.changes import CHANGE_TYP, OFFICER_CLAIMS, citizen_claims, parse_change
from civicstack.credential_types import PID_VCT
from civicstack.wallet.consents import Post
from civicstack.wallet.holder import Wallet

#: What the PID discloses with a citizen's report: who reports, and that they are an adult.
CITIZEN_CLAIMS = ("personal_administrative_number", "issuing_country", "age_over_18")


def disclosed_for(kind: str) -> tuple[str, ...]:
    """The PID claims a report of ``kind`` discloses (an officer's also name them)."""
    return (*CITIZEN_CLAIMS, *OFFICER_CLAIMS) if kind == "registered-office" else CITIZEN_CLAIMS


def report_change(wallet: Wallet, post: Post, change: dict[str, str]) -> dict[str, Any]:
    """Sign and send ``change`` (checked by :func:`civicstack.changes.parse_change` first);
    the change service's answer (``id``, ``summary``...)."""
    parsed = parse_change(change)
    issued = post("/changes/nonces", None)
    claims = citizen_claims(parsed, aud=issued["aud"], nonce=issued["nonce"], iat=wallet.now())
    presentation, (signed,) = wallet.prove_and_sign(
        vct=PID_VCT,
        disclose=disclosed_for(parsed.kind),
        aud=issued["aud"],
        nonce=issued["nonce"],
        payloads=[(CHANGE_TYP, claims)],
    )
    status: dict[str, Any] = post(
        "/changes", {"report": signed, "presentation": presentation, "nonce": issued["nonce"]}
    )
    return status
