"""The wallet's side of the access log (issue 12): every access about the holder, proven complete.

The wallet asks the platform's access service for its holder's history the way it pulls its
consent inbox: a PID presentation (disclosing only the personal administrative number and the
issuing country) to ``<base>/access`` with a nonce the service handed out. It then checks the
answer with :func:`civicstack.access.history.verify_history` against:

- the access log's verifier key: the ones the caller gives, else the one the wallet pinned the
  first time it verified a history (a different key later is refused, ``untrusted_note``);
- the witnesses the holder requires (a :class:`~civicstack.log.WitnessPolicy`), if any;
- its own access-log handle, as its consents name it (``subjects.access_log``) and as it was
  the first time: a history of someone else is ``wrong_subject``;
- the chain head it verified last time: a history that no longer extends it is
  ``access_history_rollback``.

Only a history that verifies is remembered (its head, and the key on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from civicstack._crypto import b64url_decode, b64url_encode
from civicstack.access import ChainHead
from civicstack.access.history import SubjectHistory, VerifiedHistory, verify_history
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.log import NoteVerifier, WitnessPolicy
from civicstack.wallet.consents import PID_CLAIMS, Post
from civicstack.wallet.holder import Wallet

__all__ = ["pull_access_history"]


def pull_access_history(
    wallet: Wallet,
    post: Post,
    *,
    verifier_key: str,
    trusted_keys: Sequence[str] = (),
    policy: WitnessPolicy | None = None,
) -> VerifiedHistory:
    """The holder's verified, complete access history as of the log's latest checkpoint.

    ``verifier_key`` is the key the platform advertises (``GET /access``); it is used only when
    the caller gives no ``trusted_keys`` and the wallet has pinned none yet. Raises the one
    :class:`CivicError` :func:`verify_history` raises, or ``wrong_subject``.
    """
    state = wallet.access_log_state() or {}
    pinned = state.get("verifier_key")
    keys = list(trusted_keys) or [str(pinned) if pinned else verifier_key]
    verifiers = [NoteVerifier.parse(k) for k in keys]
    # 1. authenticated as the holder, like the consent inbox
    issued = post("/access/nonces", None)
    presentation, _ = wallet.prove_and_sign(
        vct=PID_VCT, disclose=PID_CLAIMS, aud=issued["aud"], nonce=issued["nonce"]
    )
    answer = post("/access/history", {"presentation": presentation, "nonce": issued["nonce"]})
    history = SubjectHistory.from_json(answer)
    # 2. the holder's own handle, as the consents it signed name it
    handles = {
        r["subjects"]["access_log"]
        for r in wallet.consents()
        if isinstance(r.get("subjects"), dict) and r["subjects"].get("access_log")
    }
    if state.get("log_subject"):
        handles.add(state["log_subject"])
    if handles and history.log_subject not in handles:
        raise CivicError("wrong_subject", "the platform sent the history of another handle")
    # 3. everything checked, against what was verified last time
    known = _known(state, history.log_subject)
    verified = verify_history(history, verifiers, policy=policy, now=wallet.now(), known=known)
    wallet.keep_access_log_state(
        {
            "verifier_key": keys[0] if len(keys) == 1 else pinned or keys[0],
            "log_subject": history.log_subject,
            "size": verified.checkpoint.size,
            "count": verified.head.count,
            "last": b64url_encode(verified.head.last),
        }
    )
    return verified


def _known(state: dict[str, Any], log_subject: str) -> ChainHead | None:
    if state.get("log_subject") != log_subject or "count" not in state:
        return None
    try:
        return ChainHead(int(state["count"]), b64url_decode(str(state["last"])))
    except (CivicError, ValueError) as exc:
        raise CivicError("wallet_corrupted", "the kept access-log state is unreadable") from exc
