"""The caps OpenID4VCI messages are read under (offers, requests and codes are hostile input)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of the OpenID4VCI recipes, each refused with the error its check
    names.

    ``offer_bytes``       largest offer URI or offer document (default 16 KiB; QR codes hold
                          far less; ``invalid_offer``)
    ``tx_description``    characters of a ``tx_code.description`` (default 300, §4.1.1)
    ``configurations``    credential configurations one offer names (default 16)
    ``id_chars``          characters of one credential configuration id (default 256)
    ``request_bytes``     largest Credential, Deferred Credential or Notification Request body
                          read (default 64 KiB; ``invalid_credential_request``)
    ``tx_failures``       wrong Transaction Codes an offer survives; the last locks it (default
                          5, RFC 6749 §10.10; ``invalid_grant``)
    """

    offer_bytes: int = 16 * 1024
    tx_description: int = 300
    configurations: int = 16
    id_chars: int = 256
    request_bytes: int = 64 * 1024
    tx_failures: int = 5


#: The caps every OpenID4VCI recipe uses unless given others.
DEFAULT_LIMITS = Limits()
