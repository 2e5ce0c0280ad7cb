"""The platform's authorities at work: set up, accredit, register, issue, revoke, publish.

This is the authorities' service: it owns their use cases over the stores it declares
(:mod:`.storage`); the pure core never imports it. Every adapter calls it: the
``civic authority`` commands, ``civic demo``,
and the HTTP issuer and trust-registry services. It adds no trust rules of its own: statements
are signed by :mod:`civicstack.trust.signing` (which refuses anything outside the signer's
accreditation), verified again by the :class:`~civicstack.trust.TrustRegistry` before they are
stored, and credentials are issued by :func:`civicstack.credentials.issue_credential`.

* :mod:`.service` — :class:`Authorities`: the hosted parties (root, authorities, relying
  parties) and the trust statements they sign: accreditations, registrations, revocations,
  suspensions;
* :mod:`.issuing` — issuing credentials, each with a status-list entry, never beyond the
  issuer's accreditation;
* :mod:`.status_lists` — Status List Tokens signed on demand and kept until the list changes,
  and :class:`StatusListFetcher`, which serves them from the database;
* :mod:`.storage` — the store Protocols the service needs (:mod:`civicstack.stores` implements
  them; :mod:`civicstack.platform` wires them in).

What a hosted party is, and how long what it signs stays valid, is the core's
(:mod:`civicstack.trust.parties`); so are issued credentials' records and the rule that a
revocation is final (:mod:`civicstack.status`).
"""

from civicstack.services.authorities.issuing import MAX_CLAIMS_BYTES, IssuedCredential
from civicstack.services.authorities.service import Authorities
from civicstack.services.authorities.status_lists import (
    STATUS_RESIGN_AFTER,
    STATUS_TOKEN_LIFETIME,
    STATUS_TTL,
    StatusListFetcher,
)
from civicstack.trust.parties import DAY, DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS

__all__ = [
    "DAY",
    "DEFAULT_VALIDITY_DAYS",
    "MAX_CLAIMS_BYTES",
    "MAX_VALIDITY_DAYS",
    "STATUS_RESIGN_AFTER",
    "STATUS_TOKEN_LIFETIME",
    "STATUS_TTL",
    "Authorities",
    "IssuedCredential",
    "StatusListFetcher",
]
