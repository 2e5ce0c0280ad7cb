"""The holder wallet, on the citizen's device: a directory opened with a passphrase.

* :mod:`.vault` — the directory: a holder key and a data key sealed under the passphrase
  (Argon2id, then AES-256-GCM), every record encrypted, atomic writes;
* :mod:`.holder` — :class:`Wallet`: the credential store (each credential as copies bound to
  keys of their own, one unused copy per relying party), presentation with the relying
  party's registration checked and the holder's consent asked first, document signing;
* :mod:`.presentation` — what a relying party asks for and what the wallet sends;
* :mod:`.consent` — what the holder is shown before anything leaves the device, and decides on;
* :mod:`.history` — every presentation, decline and refusal, in a hash chain;
* :mod:`.documents` — detached-JWS signatures over any document, and their verification;
* :mod:`.openid4vci` and :mod:`.openid4vp` — the protocol clients that receive and present
  credentials, both behind one :class:`~civicstack.wallet.transport.Transport`;
* :mod:`.limits` — the wallet's size and count caps (:class:`Limits`).

A library first: everything returns values and nothing prints, so the ``civic wallet`` commands
are a thin layer on top. No code path exports the holder's private key.
"""

from civicstack.wallet.consent import (
    METADATA_CLAIMS,
    ConsentItem,
    ConsentPrompt,
    ConsentSummary,
    DisclosedClaim,
)
from civicstack.wallet.documents import (
    DOCUMENT_TYP,
    DocumentSignature,
    sign_document,
    verify_document,
)
from civicstack.wallet.history import History, PresentationOutcome, PresentationRecord
from civicstack.wallet.holder import (
    CredentialCopy,
    RelyingPartyTrust,
    StoredCredential,
    UnsafeReuseCopies,
    Wallet,
    WalletSettings,
)
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits
from civicstack.wallet.presentation import (
    CredentialQuery,
    LowCopies,
    Presentation,
    PresentationRequest,
)
from civicstack.wallet.transport import Method, Transport

__all__ = [
    "DEFAULT_LIMITS",
    "DOCUMENT_TYP",
    "METADATA_CLAIMS",
    "ConsentItem",
    "ConsentPrompt",
    "ConsentSummary",
    "CredentialCopy",
    "CredentialQuery",
    "DisclosedClaim",
    "DocumentSignature",
    "History",
    "Limits",
    "LowCopies",
    "Method",
    "Presentation",
    "PresentationOutcome",
    "PresentationRecord",
    "PresentationRequest",
    "RelyingPartyTrust",
    "StoredCredential",
    "Transport",
    "UnsafeReuseCopies",
    "Wallet",
    "WalletSettings",
    "sign_document",
    "verify_document",
]
