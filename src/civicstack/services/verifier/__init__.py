"""The verifier service at work: relying parties ask, wallets answer over OpenID4VP 1.0.

This is a composition layer like :mod:`civicstack.services.authorities`: it joins the protocol
(:mod:`civicstack.openid4vp`), credential verification (:mod:`civicstack.credentials`), the trust
registry and storage (:mod:`civicstack.stores.verifier`); the HTTP service
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
answers get exactly one success) and the relying party's backend reads it.

For backends that received a presentation some other way, :meth:`Verifier.verify_presentation`
checks it against the ``aud`` and ``nonce`` they expect, with the same checks and the replay
guard: a Key Binding JWT accepted once is refused after (until it is too old to pass anyway).

Presets: ``right_to_work`` (the employer), ``age_over_18`` (the shop), ``identity`` (the
landlord; the bank may use it too), from :mod:`civicstack.demo.world`.

* :mod:`.values` — presets, callers, requests made and their outcomes;
* :mod:`.api_keys` — relying parties' API keys and the callers they stand for;
* :mod:`.requests` — what is asked, and the signed Request Object with its attestation;
* :mod:`.answers` — a wallet's answer checked (§8.6) and read back as an outcome;
* :mod:`.direct` — a presentation received elsewhere, checked for a relying party's backend;
* :mod:`.checks` — the replay guard and fresh status lists;
* :mod:`.service` — the :class:`Verifier` that joins them.
"""

from civicstack.services.verifier.checks import Accepted, FreshLocalStatus, ReplayBatches, kb_digest
from civicstack.services.verifier.service import Verifier
from civicstack.services.verifier.values import (
    API_KEY_PREFIX,
    MAX_KB_AGE,
    MAX_PRESENTATION_BYTES,
    MAX_SKEW,
    PRESETS,
    REQUEST_LIFETIME,
    Caller,
    CreatedRequest,
    Outcome,
    Preset,
)

__all__ = [
    "API_KEY_PREFIX",
    "MAX_KB_AGE",
    "MAX_PRESENTATION_BYTES",
    "MAX_SKEW",
    "PRESETS",
    "REQUEST_LIFETIME",
    "Accepted",
    "Caller",
    "CreatedRequest",
    "FreshLocalStatus",
    "Outcome",
    "Preset",
    "ReplayBatches",
    "Verifier",
    "kb_digest",
]
