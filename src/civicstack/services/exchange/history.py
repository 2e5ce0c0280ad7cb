"""A citizen's access history, for their wallet: every entry about them, provably complete.

The wallet authenticates as the citizen the way it does with the consent service: a PID
presentation (SD-JWT VC + KB-JWT) to this service's audience (``<base>/access``) with a nonce
the platform handed out, used once. The platform then computes the citizen's access-log handle
(their pairwise id at :data:`civicstack.pairwise.ACCESS_LOG_SECTOR`) and answers with
:class:`~civicstack.access.history.SubjectHistory` as of the access log's latest checkpoint:
the entries about the citizen with their inclusion proofs, the checkpoint's last leaf (the
subject map's root) with its proof, and the subject map's proof for the citizen's key. The
wallet checks it with :func:`civicstack.access.history.verify_history`; nothing in the answer
is taken on trust.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from civicstack.access.history import SubjectHistory
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from civicstack.services.consent import IssuedNonce, PidHolder

__all__ = ["AccessHistories", "HistoryStorage", "PidCheck"]


class HistoryStorage(Protocol):
    """The access log's reads for one citizen (``stores.exchange.AccessLogStore``)."""

    def subject_history(self, log_subject: str) -> SubjectHistory:
        """Every entry about ``log_subject`` as of the latest checkpoint, with the proofs."""
        ...


class PidCheck(Protocol):
    """The consent service's nonces and PID presentation check (:class:`Consents`)."""

    def nonce(self, *, audience: str | None = None) -> IssuedNonce:
        """A nonce for one presentation to ``audience``."""
        ...

    def holder(
        self, presentation: object, nonce: object, *, audience: str | None = None
    ) -> PidHolder:
        """The citizen a PID presentation to ``audience`` names (the nonce used up)."""
        ...


class AccessHistories:
    """Citizens' access histories (see the module docstring)."""

    def __init__(
        self,
        *,
        storage: HistoryStorage,
        pid: PidCheck,
        pairwise: Callable[[str, Subject], str],
        base_url: str,
    ) -> None:
        self.storage = storage
        self._pid = pid
        self._pairwise = pairwise
        self.audience = base_url.rstrip("/") + "/access"

    def nonce(self) -> IssuedNonce:
        """A nonce for the wallet's next PID presentation to this service."""
        return self._pid.nonce(audience=self.audience)

    def history(self, presentation: object, nonce: object) -> SubjectHistory:
        """The presenting citizen's history with its proofs.

        1. the PID presentation verifies, to this audience, with our nonce (used up);
        2. the citizen's access-log handle; 3. the history as of the latest checkpoint.
        """
        # 1. who asks
        holder = self._pid.holder(presentation, nonce, audience=self.audience)
        # 2. their handle
        log_subject = self._pairwise(ACCESS_LOG_SECTOR, holder.subject)
        # 3. everything about them, with the proofs
        return self.storage.subject_history(log_subject)
