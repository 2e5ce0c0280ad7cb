"""The registers' caps on every input, in one value an operator can override.

Defaults fit the whole GOV.UK archive (3.8 MB; its largest item has 15 fields and an
18-element list; its longest RSF line is 2.1 kB) with a wide margin, and keep one hostile input
from costing more than its cap. Every recipe that reads input takes ``limits`` (keyword-only).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and count caps of the registers; exceeding one raises ``too_large`` (or, for a key,
    the error of a malformed key).

    - ``max_item_bytes`` (``1 << 20``, 1 MiB): the canonical JSON of one item;
    - ``max_item_fields`` (256): the fields of one item;
    - ``max_list_values`` (4096): the values of one cardinality-n field;
    - ``max_entry_items`` (512): the items one entry names (GOV.UK used one; lower only: the
      largest leaf must fit a C2SP tlog-tiles entry, at most 65535 bytes);
    - ``max_key_length`` (256): a record key (the stores' key columns hold 256; lower only);
    - ``max_name_length`` (64): a register name, a segment of its log's C2SP origin (lower
      only: the stores' name column holds 64);
    - ``max_rsf_bytes`` (``1 << 30``, 1 GiB): one RSF input;
    - ``max_rsf_line_bytes`` (``(1 << 20) + 16``): one RSF line (an ``add-item`` of the largest
      item);
    - ``max_rsf_lines`` (50,000,000): the lines of one RSF input;
    - ``max_rsf_patch_bytes`` (``8 << 20``, 8 MiB): an RSF patch a custodian posts;
    - ``max_write_records`` (1000): the records of one custodian write;
    - ``max_page`` (1000): the records or entries of one page;
    - ``max_filters`` (8): the ``?FIELD=VALUE`` filters of one record search;
    - ``max_query_bytes`` (4096): the query string of one request to the registers API.
    """

    max_item_bytes: int = 1 << 20
    max_item_fields: int = 256
    max_list_values: int = 4096
    max_entry_items: int = 512
    max_key_length: int = 256
    max_name_length: int = 64
    max_rsf_bytes: int = 1 << 30
    max_rsf_line_bytes: int = (1 << 20) + 16
    max_rsf_lines: int = 50_000_000
    max_rsf_patch_bytes: int = 8 << 20
    max_write_records: int = 1000
    max_page: int = 1000
    max_filters: int = 8
    max_query_bytes: int = 4096


#: The caps every recipe uses unless given others.
DEFAULT_LIMITS = Limits()
