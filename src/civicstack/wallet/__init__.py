"""The holder wallet, on the citizen's device: a directory opened with a passphrase.

* :mod:`.vault` — the directory: a holder key and a data key sealed under the passphrase
  (Argon2id, then AES-256-GCM), every record encrypted, atomic writes, a hash-chained history;
* :mod:`.holder` — :class:`Wallet`: the credential store, presentation with the relying
  party's registration checked and the holder's consent asked first, the history, document
  signing;
* :mod:`.presentation` — requests, consent summaries and history records (frozen values);
* :mod:`.documents` — detached-JWS signatures over any document, and their verification.

A library first: everything returns values and nothing prints, so the ``civic wallet`` commands
are a thin layer on top. No code path exports the holder's private key.
"""

from civicstack.wallet.documents import (
    DOCUMENT_TYP,
    DocumentSignature,
    sign_document,
    verify_document,
)
from civicstack.wallet.holder import RelyingPartyTrust, StoredCredential, Wallet
from civicstack.wallet.presentation import (
    ConsentItem,
    ConsentPrompt,
    ConsentSummary,
    CredentialQuery,
    DisclosedClaim,
    Presentation,
    PresentationRecord,
    PresentationRequest,
)

__all__ = [
    "DOCUMENT_TYP",
    "ConsentItem",
    "ConsentPrompt",
    "ConsentSummary",
    "CredentialQuery",
    "DisclosedClaim",
    "DocumentSignature",
    "Presentation",
    "PresentationRecord",
    "PresentationRequest",
    "RelyingPartyTrust",
    "StoredCredential",
    "Wallet",
    "sign_document",
    "verify_document",
]
