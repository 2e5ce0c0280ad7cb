"""The data-exchange service: data services, consented fetches, and the access log.

- :mod:`.service` — :class:`Exchange`: publishing data services, hosted records, fetches;
- :mod:`.access_log` — :class:`AccessLog`: group commit of access entries with receipts;
- :mod:`.history` — :class:`AccessHistories`: a citizen's access history with its proofs;
- :mod:`.consent` — :class:`ConsentCheck`, the seam to the consent service;
- :mod:`.storage` — the store Protocols it needs.
"""

from civicstack.services.exchange.access_log import (
    AccessLog,
    AccessLogProcess,
    AccessRecorder,
    Recorded,
    UnsafeNoAccessLog,
    WriterMain,
    serve_access_log,
)
from civicstack.services.exchange.consent import ConsentCheck, Covered
from civicstack.services.exchange.history import AccessHistories, HistoryStorage
from civicstack.services.exchange.service import (
    MAX_FETCH_BODY,
    MAX_RECORD_BYTES,
    AccessRefusedError,
    Exchange,
    FetchRequest,
    Released,
    RemoteRecords,
)
from civicstack.services.exchange.storage import (
    AccessLogStorage,
    AppendedAccesses,
    DataServiceStorage,
)

__all__ = [
    "MAX_FETCH_BODY",
    "MAX_RECORD_BYTES",
    "AccessHistories",
    "AccessLog",
    "AccessLogProcess",
    "AccessLogStorage",
    "AccessRecorder",
    "AccessRefusedError",
    "AppendedAccesses",
    "ConsentCheck",
    "Covered",
    "DataServiceStorage",
    "Exchange",
    "FetchRequest",
    "HistoryStorage",
    "Recorded",
    "Released",
    "RemoteRecords",
    "UnsafeNoAccessLog",
    "WriterMain",
    "serve_access_log",
]
