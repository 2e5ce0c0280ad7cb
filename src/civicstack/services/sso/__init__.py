"""One login: the OpenID Provider at work (OpenID Connect Core 1.0 and its companions).

The rules are :mod:`civicstack.sso`'s; this package joins them to the verifier (signing in is
presenting a PID from the wallet over OpenID4VP), the trust registry (a client belongs to a
registered organisation, the sector of its pairwise subs), keys and storage (the
:class:`SsoStore` it declares, implemented by :mod:`civicstack.stores.sso`).

* :mod:`.provider` — the :class:`OpenIdProvider` and its use cases;
* :mod:`.storage` — the store it needs, and the records only it keeps (sign-ins, tokens);
* :mod:`.backchannel` — Back-Channel Logout delivery over HTTP.
"""

from civicstack.services.sso.backchannel import HttpLogoutDelivery
from civicstack.services.sso.provider import (
    INITIAL_ACCESS_TOKEN_LIFETIME,
    LOGIN_LIFETIME,
    LoginStarted,
    LogoutDelivery,
    OpenIdProvider,
    SignedIn,
    SignedOut,
)
from civicstack.services.sso.storage import SsoStore
from civicstack.sso import InitialAccessToken, Login

__all__ = [
    "INITIAL_ACCESS_TOKEN_LIFETIME",
    "LOGIN_LIFETIME",
    "HttpLogoutDelivery",
    "InitialAccessToken",
    "Login",
    "LoginStarted",
    "LogoutDelivery",
    "OpenIdProvider",
    "SignedIn",
    "SignedOut",
    "SsoStore",
]
