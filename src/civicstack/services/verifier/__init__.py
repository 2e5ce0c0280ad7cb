"""The verifier service at work: relying parties ask, wallets answer over OpenID4VP 1.0.

This is a composition layer like :mod:`civicstack.services.authorities`: it joins the protocol
(:mod:`civicstack.openid4vp`), credential verification (:mod:`civicstack.credentials`), the trust
registry and storage (the :class:`VerifierStore` it declares, which
:mod:`civicstack.stores.verifier` implements); the HTTP service
(:mod:`civicstack.api.verifier`) and the CLI only call it.

A relying party's backend creates a request from a preset or a DCQL query (§6). Before anything
is signed the request is checked against the relying party's registration: a suspended,
unregistered or over-asking relying party is refused up front. The request is then:

* a Verifier Attestation JWT (§12) from the registration's registrar (hosted here), binding
  the client identifier ``verifier_attestation:<registered identifier>`` (§5.9.3) to the key
  of the registration, valid as long as the request;
* a Request Object (§5, RFC 9101) signed with that key, carrying the attestation in its
  ``jwt`` header, ``dcql_query``, a fresh ``nonce`` and ``state``, ``response_mode``
  ``direct_post`` and the ``response_uri`` (§8.2), served by reference at ``request_uri``.

The wallet's answer (§8.2) is verified as §8.6 lists, every presentation against the trust
registry (chain to the root, scope) and the status lists, its Key Binding JWT against this
request's ``client_id`` and ``nonce`` (§14.1, Appendix B.3), and the set of presentations
against the query (§6.4). The outcome is stored once (a request is answered once; concurrent
answers get exactly one success) and the relying party's backend reads it. Anyone holding the
link can post an answer, so one that fails (``access_denied`` included) is recorded as an
attempt the relying party reads, and the request waits for a valid answer until it expires.
The claims learnt are sealed at rest and handed to the relying party once, then deleted (or
deleted unread after ``CIVIC_VERIFIER_RESULT_RETENTION`` seconds).

For backends that received a presentation some other way, :meth:`Verifier.verify_presentation`
checks it against the ``aud`` and ``nonce`` they expect, with the same checks and the replay
guard: a Key Binding JWT accepted once is refused after (until it is too old to pass anyway).

Presets: ``right_to_work`` (the employer), ``age_over_18`` (the shop), ``identity`` (the
landlord; the bank may use it too), asking for the claims :mod:`civicstack.credential_types`
names for each check.

* :mod:`.presets` — the ready-made requests;
* :mod:`.api_keys` — relying parties' API keys and the callers they stand for;
* :mod:`.requests` — what is asked, and the signed Request Object with its attestation;
* :mod:`.answers` — a wallet's answer checked (§8.6) and read back as a verification outcome;
* :mod:`.direct` — a presentation received elsewhere, checked for a relying party's backend;
* :mod:`.replay` — the replay guard: each Key Binding JWT accepted once;
* :mod:`.status` — status lists read fresh (this platform's) or per their ``ttl`` (others');
* :mod:`.service` — the :class:`Verifier` that joins them, and the store it needs
  (:class:`VerifierStore`, implemented by :mod:`civicstack.stores.verifier`).
"""

from civicstack.services.verifier.answers import VerificationOutcome
from civicstack.services.verifier.api_keys import API_KEY_PREFIX, ApiKey, Caller
from civicstack.services.verifier.direct import MAX_PRESENTATION_BYTES
from civicstack.services.verifier.limits import DEFAULT_LIMITS, Limits
from civicstack.services.verifier.presets import PRESETS, Preset
from civicstack.services.verifier.replay import (
    MAX_KB_AGE,
    MAX_SKEW,
    Accepted,
    ReplayBatches,
    kb_digest,
)
from civicstack.services.verifier.requests import REQUEST_LIFETIME, CreatedRequest
from civicstack.services.verifier.service import Verifier, VerifierStore
from civicstack.services.verifier.status import FreshLocalStatus

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_LIMITS",
    "MAX_KB_AGE",
    "MAX_PRESENTATION_BYTES",
    "MAX_SKEW",
    "PRESETS",
    "REQUEST_LIFETIME",
    "Accepted",
    "ApiKey",
    "Caller",
    "CreatedRequest",
    "FreshLocalStatus",
    "Limits",
    "Preset",
    "ReplayBatches",
    "VerificationOutcome",
    "Verifier",
    "VerifierStore",
    "kb_digest",
]
