"""The wallet's caps on what issuers, verifiers, files and the holder may hand it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of the wallet, each refused with the error its check names.

    ``issuer_response_bytes``    largest response read from an issuer (default 1 MiB)
    ``verifier_response_bytes``  the verifier's answer to a presentation is cut here (64 KiB)
    ``deferred_interval``        longest wait, in seconds, an issuer may ask for (default 7
                                 days; a longer ``interval`` is shortened to it)
    ``queries``                  credentials one presentation request asks for (default 16)
    ``claims_per_query``         claim paths one credential query names (default 64)
    ``credential_bytes``         largest credential stored (default 256 KiB, the SD-JWT cap)
    ``record_file_bytes``        largest encrypted record file read back (default 4 MiB)
    ``document_bytes``           largest document signed or verified in memory (64 MiB)
    ``copies``                   copies of one credential asked for and kept (default 20)
    """

    issuer_response_bytes: int = 1024 * 1024
    verifier_response_bytes: int = 64 * 1024
    deferred_interval: int = 86_400 * 7
    queries: int = 16
    claims_per_query: int = 64
    credential_bytes: int = 256 * 1024
    record_file_bytes: int = 4 * 1024 * 1024
    document_bytes: int = 64 * 1024 * 1024
    copies: int = 20


DEFAULT_LIMITS = Limits()
