"""The platform's authorities at work: set up, accredit, register, issue, revoke, publish.

This is the composition layer, like :mod:`civicstack.platform` (it uses ``stores/``; the pure
core never imports it). Every adapter calls it: the ``civic authority`` commands, ``civic demo``,
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
* :mod:`.validity` — how long what the authorities sign stays valid.
"""

from civicstack.services.authorities.issuing import MAX_CLAIMS_BYTES, IssuedCredential
from civicstack.services.authorities.service import Authorities
from civicstack.services.authorities.status_lists import (
    STATUS_RESIGN_AFTER,
    STATUS_TOKEN_LIFETIME,
    STATUS_TTL,
    StatusListFetcher,
)
from civicstack.services.authorities.validity import DAY, DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS

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
