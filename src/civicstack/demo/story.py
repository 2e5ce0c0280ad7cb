"""What both tellings of ``civic demo`` share: Amara, the steps, and how a step reads.

The story is told twice, by the components in one process (:mod:`civicstack.demo.local`) and
over the platform's published protocols (:mod:`civicstack.demo.http`). Both tell it with the
same citizen and claims, the same :class:`Step` records, the same consent and history steps,
and the same check that a refusal the story expects does come with its code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from civicstack._crypto import json_dumps
from civicstack.credential_types import right_to_work_claims
from civicstack.errors import CivicError
from civicstack.wallet import ConsentSummary, Wallet

#: Amara's PID claims, as the passport office knows them.
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "nationalities": ["GB"],
    "address": {
        "street_address": "2 Park Row",
        "locality": "Leeds",
        "postal_code": "LS1 5HD",
        "country": "GB",
    },
    "document_number": "533401187",
    "personal_administrative_number": "QQ123456C",
    "issuing_country": "GB",
}
#: Amara's right to work, as the Home Office knows it.
AMARA_RIGHT_TO_WORK = right_to_work_claims(
    given_name="Amara",
    family_name="Okafor",
    right_to_work=True,
    share_code="W4X 9KL 2PQ",
    valid_until="2030-01-01",
)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the story: what happened, the details, and any claims seen.

    ``refused`` holds the error code when the step is a refusal the story expects.
    """

    title: str
    details: tuple[str, ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain description."""
        return {
            "title": self.title,
            "details": list(self.details),
            "rows": [list(r) for r in self.rows],
            "refused": self.refused,
        }


@dataclass
class Story:
    """What the story produced, for whoever tells it."""

    steps: list[Step] = field(default_factory=list)
    shop_learned: dict[str, Any] = field(default_factory=dict)
    employer_learned: dict[str, Any] = field(default_factory=dict)


def shown(value: Any) -> str:
    """A claim value as the story prints it."""
    return value if isinstance(value, str) else json_dumps(value).decode()


def consent_rows(summary: ConsentSummary) -> tuple[tuple[str, str], ...]:
    """The claims (with values) and metadata a consent screen lists."""
    rows = [(c.path, shown(c.value)) for item in summary.items for c in item.claims]
    rows += [
        (m.path, "(sent with every presentation)")
        for item in summary.items
        for m in item.metadata
        if m.path != "cnf"
    ]
    return tuple(rows)


def consent_step(summary: ConsentSummary, registrar: str) -> Step:
    """Amara is asked, and reads exactly what would leave her device (``registrar``: the
    display name of the relying party's registrar)."""
    return Step(
        f"Amara is asked: {summary.relying_party_name} wants to know, "
        f"for '{summary.purpose_description}'",
        (
            f"registered by {registrar} (registration {summary.registration})",
            "exactly what would leave her device:",
        ),
        consent_rows(summary),
    )


def history_step(wallet: Wallet) -> Step:
    """Amara's history, as her wallet keeps it on her device."""
    return Step(
        "Amara's history on her device",
        tuple(
            f"{r.seq}. {r.outcome} to {r.relying_party_name or r.relying_party} "
            f"for {r.purpose}: "
            + (", ".join(c.path for i in r.items for c in i.claims) or r.error or "-")
            for r in wallet.history()
        ),
    )


def expect_refusal(code: str, call: Callable[[], object]) -> CivicError:
    """The refusal ``call`` must end in; ``internal_error`` if it succeeds or says otherwise."""
    try:
        call()
    except CivicError as exc:
        if exc.code != code:
            raise CivicError(
                "internal_error", f"the story expected {code}, the platform said {exc.code}"
            ) from exc
        return exc
    raise CivicError("internal_error", f"the story expected a refusal ({code}); none came")
