"""The consent service: see :mod:`.service`; the store it needs in :mod:`.storage`."""

from civicstack.services.consent.service import (
    DATA_VCT_PREFIX,
    Consents,
    IssuedNonce,
    PidHolder,
    data_vct,
)
from civicstack.services.consent.storage import ConsentStore, RequestCaps

__all__ = [
    "DATA_VCT_PREFIX",
    "ConsentStore",
    "Consents",
    "IssuedNonce",
    "PidHolder",
    "RequestCaps",
    "data_vct",
]
