"""Reading hostile input given on the command line.

Values given on the command line (``--claims``, ``--scope``, a presentation...) may be literal,
``@path`` to read a file, or ``-`` to read standard input; each is size-capped and parsed
strictly (duplicate JSON keys are refused), and a failure names the option it came from.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from civicstack._crypto import json_loads_strict
from civicstack.errors import CivicError, InputError

#: Largest value read from an argument, a file or standard input, when the command knows no
#: tighter cap from the recipe the value goes to (``civic verify`` passes the SD-JWT's,
#: ``sdjwt.DEFAULT_LIMITS.sd_jwt_bytes``). The CLI's own: it bounds what one command holds.
MAX_INPUT_BYTES = 1024 * 1024


def read_value(value: str, what: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """``value`` itself, the contents of ``@path``, or standard input for ``-``."""
    if value == "-":
        data = sys.stdin.buffer.read(limit + 1)
        source = "standard input"
    elif value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError as exc:
            raise InputError("invalid_request", f"{what}: no file {path}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"{what}: cannot read {path}: {exc.strerror}") from exc
        source = str(path)
    else:
        data = value.encode()
        source = what
    if len(data) > limit:
        raise InputError("too_large", f"{what}: {source} is larger than {limit} bytes")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError("malformed", f"{what}: {source} is not UTF-8 text") from exc


def read_bytes(value: str, what: str, *, limit: int) -> bytes:
    """A file's bytes (``-`` for standard input), capped at ``limit``."""
    if value == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(value).expanduser()
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError as exc:
            raise InputError("invalid_request", f"{what}: no file {path}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"{what}: cannot read {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise InputError("too_large", f"{what} is larger than {limit} bytes")
    return data


def read_json(value: str, what: str, *, limit: int = 64 * 1024) -> Any:
    """Parse ``value`` (literal, ``@path`` or ``-``) as strict JSON."""
    text = read_value(value, what, limit=limit)
    try:
        return json_loads_strict(text)
    except CivicError as exc:
        cause = exc.__cause__
        why = (
            f"{cause.msg} at line {cause.lineno} column {cause.colno}"
            if isinstance(cause, json.JSONDecodeError)
            else exc.detail
        )
        raise InputError("malformed", f"{what} is not valid JSON: {why}") from exc


def read_json_object(value: str, what: str, *, limit: int = 64 * 1024) -> dict[str, Any]:
    """Parse ``value`` as a strict JSON object."""
    parsed = read_json(value, what, limit=limit)
    if not isinstance(parsed, dict):
        raise InputError("malformed", f"{what} must be a JSON object")
    return parsed


def unique_prefix(given: str, ids: Iterable[str], what: str) -> str:
    """``given`` when it is an id, else the one id it begins (ids are long: people paste what
    they see, or type the start); ``invalid_request`` when several begin with it."""
    known = list(ids)
    if given in known or not given:
        return given
    matches = [i for i in known if i.startswith(given)]
    if len(matches) > 1:
        raise InputError(
            "invalid_request", f"{len(matches)} {what}s begin with {given!r}: give more of the id"
        )
    return matches[0] if matches else given
