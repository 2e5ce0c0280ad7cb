"""How long the issuer's secrets and transactions live.

Lifetimes: a Pre-Authorized Code lives 15 minutes by default ("short lived", §4.1.1; offers for
an application a week, since the citizen may scan the QR code later), an access token and a
``c_nonce`` 5 minutes (§13.6: longer-lived tokens count as long lived). A deferred transaction
stays collectable for 30 days with the token that started it: the credentials it yields are
bound to the keys proved at the Credential Endpoint, so a stolen token gains nothing.
"""

from __future__ import annotations

MINUTE = 60
DAY = 86_400
ACCESS_TOKEN_TTL = 5 * MINUTE
NONCE_TTL = 5 * MINUTE
DEFAULT_OFFER_TTL = 15 * MINUTE
APPLICATION_OFFER_TTL = 7 * DAY
MAX_OFFER_TTL = 7 * DAY
DEFERRED_TTL = 30 * DAY
#: Seconds a Wallet is asked to wait between Deferred Credential Requests (§9.2).
DEFAULT_INTERVAL = 60
