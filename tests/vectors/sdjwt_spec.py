"""Reading the sd-jwt reference tool's test-case specifications (``specification.yml``).

A specification writes the user claims in YAML with a ``!sd`` tag on each selectively
disclosable claim name or array element. :func:`load_case` turns that into plain claims plus
the paths to conceal, which is exactly what :func:`civicstack.sdjwt.conceal` takes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml

from civicstack._crypto import b64url_decode
from civicstack.sdjwt import Path


@dataclass(frozen=True)
class Marked:
    """A value (or claim name) tagged ``!sd``."""

    value: Any


class _Loader(yaml.SafeLoader):
    pass


def _construct_sd(loader: _Loader, node: yaml.Node) -> Marked:
    if isinstance(node, yaml.ScalarNode):
        # The tag hides the scalar's implicit type: resolve it as if untagged, unless quoted.
        if node.style in ('"', "'"):
            return Marked(loader.construct_scalar(node))
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        return Marked(loader.construct_object(yaml.ScalarNode(tag, node.value)))
    if isinstance(node, yaml.MappingNode):
        return Marked(loader.construct_mapping(node, deep=True))
    assert isinstance(node, yaml.SequenceNode)
    return Marked(loader.construct_sequence(node, deep=True))


_Loader.add_constructor("!sd", _construct_sd)


def _strip(value: Any, path: Path, paths: list[Path]) -> Any:
    if isinstance(value, Marked):
        paths.append(path)
        return _strip(value.value, path, paths)
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            name = key.value if isinstance(key, Marked) else key
            if isinstance(key, Marked):
                paths.append((*path, name))
            out[name] = _strip(inner, (*path, name), paths)
        return out
    if isinstance(value, list):
        return [_strip(inner, (*path, i), paths) for i, inner in enumerate(value)]
    return value


@dataclass(frozen=True)
class Case:
    """One vector directory: its settings, claims and expected outputs."""

    name: str
    directory: FsPath
    spec: dict[str, Any]
    settings: dict[str, Any]
    claims: dict[str, Any]
    paths: list[Path]

    def text(self, stem: str) -> str:
        """An output artefact as text (JSON-serialization outputs are JSON-encoded strings)."""
        txt = self.directory / f"{stem}.txt"
        if txt.exists():
            return txt.read_text().strip()
        encoded = json.loads((self.directory / f"{stem}.json").read_text())
        assert isinstance(encoded, str)
        return encoded

    def json(self, stem: str) -> Any:
        """An artefact stored as JSON."""
        return json.loads((self.directory / f"{stem}.json").read_text())

    @property
    def key_binding(self) -> bool:
        """Whether the presentation carries a KB-JWT."""
        return bool(self.spec.get("key_binding", False))

    @property
    def issuer_jwk(self) -> dict[str, str]:
        """The issuer's private JWK."""
        keys = self.settings["key_settings"]
        jwk = keys["issuer_keys"][0] if "issuer_keys" in keys else keys["issuer_key"]
        return {k: v for k, v in jwk.items() if k != "kid"}

    @property
    def holder_jwk(self) -> dict[str, str]:
        """The holder's private JWK."""
        return dict(self.settings["key_settings"]["holder_key"])


def load_case(directory: FsPath, settings: dict[str, Any]) -> Case:
    """Parse ``directory/specification.yml`` against the shared ``settings.yml``."""
    spec = yaml.load((directory / "specification.yml").read_text(), Loader=_Loader)
    merged = dict(settings)
    if "settings_override" in spec:
        merged = {**settings, **spec["settings_override"]}
    claims: dict[Any, Any] = {}
    if spec.get("include_default_claims", True):
        claims = {
            "iss": merged["identifiers"]["issuer"],
            "iat": merged["iat"],
            "exp": merged["exp"],
        }
    for key, value in spec["user_claims"].items():
        # The reference tool keys tagged names by their wrapper, so a tagged "iss" would be
        # a second entry; no vector does that, and plain names update in place.
        claims[key] = value
    paths: list[Path] = []
    plain = _strip(claims, (), paths)
    return Case(directory.name, directory, spec, merged, plain, paths)


def salts_in_order(issuance: list[str]) -> list[bytes]:
    """The random bytes behind each Disclosure's salt, in the order they were created."""
    return [b64url_decode(json.loads(b64url_decode(d))[0]) for d in issuance]
