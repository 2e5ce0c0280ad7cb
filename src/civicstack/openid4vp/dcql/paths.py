"""Claims path pointers (OpenID4VP 1.0 §7): processed against a credential as §7.1 specifies,
and written as the dotted paths civicstack's wallet uses (``["address", "locality"]`` is
``address.locality``; a ``null`` is supported only as the last component).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from civicstack.errors import InputError

PathComponent = str | int | None


class _PathError(Exception):
    """§7.1: processing aborted with an error (a component met the wrong kind of element)."""


def select(root: Mapping[str, Any], path: Sequence[PathComponent]) -> list[Any]:
    """Process a claims path pointer against a JSON credential (§7.1.1); the selected elements.

    An empty list means nothing was selected, and so does a processing error: either way the
    claim is not in the credential.
    """
    try:
        return _select(root, path)
    except _PathError:
        return []


def _select(root: Mapping[str, Any], path: Sequence[PathComponent]) -> list[Any]:
    # 1. Select the root element of the Credential.
    selected: list[Any] = [root]
    # 2. Process the components from left to right.
    for component in path:
        selected = _step(selected, component)
    # 3. An empty selection is an error: the claim is not there.
    if not selected:
        raise _PathError
    return selected


def _step(selected: list[Any], component: PathComponent) -> list[Any]:
    nxt: list[Any] = []
    if isinstance(component, str):
        # 2.1 a string selects that key in every selected object; an element lacking it drops
        # out; an element that is not an object aborts.
        for element in selected:
            if not isinstance(element, Mapping):
                raise _PathError
            if component in element:
                nxt.append(element[component])
        return nxt
    if component is None:
        # 2.2 null selects every element of every selected array.
        for element in selected:
            if not isinstance(element, list):
                raise _PathError
            nxt.extend(element)
        return nxt
    if isinstance(component, int) and not isinstance(component, bool) and component >= 0:
        # 2.3 a non-negative integer selects that index of every selected array.
        for element in selected:
            if not isinstance(element, list):
                raise _PathError
            if component < len(element):
                nxt.append(element[component])
        return nxt
    # 2.4 anything else aborts.
    raise _PathError


def dotted(path: Sequence[PathComponent]) -> str:
    """The civicstack dotted path for a claims path pointer (``unsupported`` when there is none).

    A trailing ``null`` selects every element of an array, which is the array itself.
    """
    parts = list(path)
    if parts and parts[-1] is None:
        parts.pop()
    if not parts:
        raise InputError("unsupported", "a claims path of only null selects no claim")
    out: list[str] = []
    for part in parts:
        if part is None:
            raise InputError(
                "unsupported", "null (all array elements) is supported only at the end of a path"
            )
        if isinstance(part, str) and ("." in part or part.isdigit()):
            raise InputError("unsupported", f"claim name {part!r} cannot be a dotted path")
        out.append(str(part))
    return ".".join(out)
