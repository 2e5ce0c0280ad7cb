"""Access records and the exchange's rules: the core of consented data exchange.

- :mod:`.entry` — :class:`AccessEntry`, one leaf of the access log (canonical bytes, strict
  parsing, size caps);
- :mod:`.subject` — the entry's subject as an unlinkable tag on a per-subject hash chain, and
  its blinded key and head in the subject map;
- :mod:`.subject_map` — the sparse Merkle tree of each subject's blinded chain head, whose
  root the log commits after each batch;
- :mod:`.history` — the wallet's check that it holds every entry about its holder as of a
  checkpoint (the completeness proof);
- :mod:`.decision` — what a fetch must satisfy before data is released, and the refusal codes
  the log records.

Pure: no storage, no HTTP, time passed in.
"""

from civicstack.access.decision import (
    DATA_VCT_PREFIX,
    REFUSAL_CODES,
    DataService,
    check_offered,
    check_requester,
    data_service_vct,
)
from civicstack.access.entry import (
    MAX_CATEGORIES,
    MAX_ENTRY_BYTES,
    AccessEntry,
    AppendedAccesses,
    Outcome,
    SubjectMapRoot,
    chained,
    check_categories,
    parse_entry,
    parse_leaf,
)
from civicstack.access.subject import (
    FIRST_PREVIOUS,
    ChainHead,
    SubjectMark,
    head_value,
    map_key,
    mark,
    subject_key,
    subject_link,
    subject_tag,
)

__all__ = [
    "DATA_VCT_PREFIX",
    "FIRST_PREVIOUS",
    "MAX_CATEGORIES",
    "MAX_ENTRY_BYTES",
    "REFUSAL_CODES",
    "AccessEntry",
    "AppendedAccesses",
    "ChainHead",
    "DataService",
    "Outcome",
    "SubjectMapRoot",
    "SubjectMark",
    "chained",
    "check_categories",
    "check_offered",
    "check_requester",
    "data_service_vct",
    "head_value",
    "map_key",
    "mark",
    "parse_entry",
    "parse_leaf",
    "subject_key",
    "subject_link",
    "subject_tag",
]
