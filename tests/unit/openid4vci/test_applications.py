"""Applications: proof documents recognised by content, and the automatic-check seam."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from civicstack.errors import CivicError
from civicstack.openid4vci.applications import (
    MAX_DOCUMENT_BYTES,
    AllChecks,
    Application,
    Finding,
    NoRegisterChecks,
    UprnInAddressRegister,
    check_reason,
    check_reviewer,
    sniff_document,
)
from civicstack.registers import Cardinality, Catalogue, Datatype, Field, Item, Scope

NOW = 1_767_225_600
PDF = b"%PDF-1.7\n..."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as caught:
        fn()
    return caught.value.code


def _application(**claims: object) -> Application:
    return Application(
        id="a1",
        issuer="passport-office",
        vct="urn:eudi:pid:1",
        claims=claims,
        documents=(),
        status="pending",
        findings=(),
        submitted_at=NOW,
    )


def test_documents_are_typed_by_their_bytes() -> None:
    """PDF, PNG and JPEG are recognised from their magic bytes."""
    assert sniff_document(PDF) == "application/pdf"
    assert sniff_document(PNG) == "image/png"
    assert sniff_document(JPEG) == "image/jpeg"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "invalid_document"),
        (b"<html><script>", "invalid_document"),
        (b"MZ\x90\x00", "invalid_document"),
        (b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES, "too_large"),
    ],
)
def test_other_documents_are_refused(content: bytes, code: str) -> None:
    """Empty files, HTML, executables and oversize files are refused with their code."""
    assert _code(lambda: sniff_document(content)) == code


def test_without_registers_the_default_says_nothing_was_checked() -> None:
    """The no-registers default flags every application so an officer knows."""
    (finding,) = NoRegisterChecks().check(_application(given_name="A"))
    assert finding == Finding("registers", "flag", "no register checks configured")


def _address_catalogue() -> Catalogue:
    catalogue = Catalogue.bootstrap(now=NOW)
    catalogue.create_register(
        "address",
        [
            Field("address", Datatype.STRING, Cardinality.ONE, register="address"),
            Field("postcode", Datatype.STRING, Cardinality.ONE),
        ],
        now=NOW,
    )
    addresses = catalogue.get("address")
    batch = addresses.batch()
    batch.append_items(
        Scope.USER,
        "100023336956",
        [Item.of({"address": "100023336956", "postcode": "SW1A 2AA"})],
        now=NOW,
    )
    addresses.commit(batch, catalogue)
    return catalogue


def test_a_known_uprn_passes_and_an_unknown_one_blocks() -> None:
    """The address-register check looks the UPRN up in a real register."""
    check = UprnInAddressRegister(_address_catalogue())
    (known,) = check.check(_application(address={"uprn": "100023336956"}))
    assert known.outcome == "pass"
    (unknown,) = check.check(_application(address={"uprn": "999"}))
    assert unknown.outcome == "block"
    assert "999" in unknown.detail
    (malformed,) = check.check(_application(address={"uprn": "12ab"}))
    assert malformed.outcome == "block"
    (none,) = check.check(_application(address={"street_address": "10 Downing St"}))
    assert none.outcome == "pass"


def test_the_address_check_flags_when_there_is_no_address_register() -> None:
    """Without an address register the check cannot decide: it flags."""
    (finding,) = UprnInAddressRegister(Catalogue.bootstrap(now=NOW)).check(
        _application(address={"uprn": "1"})
    )
    assert finding.outcome == "flag"


class _Broken:
    def check(self, application: Application) -> Sequence[Finding]:
        raise RuntimeError("register unreachable")


def test_a_failing_check_flags_instead_of_deciding() -> None:
    """A check that raises becomes a flag; the others still run."""
    findings = AllChecks([_Broken(), NoRegisterChecks()]).check(_application())
    assert [f.outcome for f in findings] == ["flag", "flag"]
    assert "register unreachable" in findings[0].detail


def test_reviewer_and_reason_are_bounded_text() -> None:
    """Reviewer names and reasons are non-empty, bounded and free of control characters."""
    assert check_reviewer("Officer Jones") == "Officer Jones"
    assert check_reason("Photo does not match.\nPlease reapply.").startswith("Photo")
    for bad in ["", " ", "x" * 257, "a\x00b"]:
        assert _code(lambda b=bad: check_reviewer(b)) == "invalid_request"
    for bad in ["", "x" * 1001, "a\x07b"]:
        assert _code(lambda b=bad: check_reason(b)) == "invalid_request"
