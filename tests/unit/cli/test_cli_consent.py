"""``civic consent request`` on local state: a request is made, bad ones are one error line."""

from __future__ import annotations

from civicstack.demo.world import seed_demo_world
from civicstack.pairwise import Subject
from tests.e2e.server import free_port
from tests.unit.cli.conftest import Civic

NOWHERE = f"http://127.0.0.1:{free_port()}"


def _args(subject: str, *extra: str) -> list[str]:
    return [
        "consent", "request", "--as", "insurer", "--subject", subject, "--provider", "dvla",
        "--purpose", "insurance_quote", "--categories", "dpv-pd:VehicleUsage", *extra,
    ]  # fmt: skip


def test_a_request_is_made_on_the_local_platform(civic: Civic) -> None:
    """With no server the request goes into the local platform, shown as JSON or for people."""
    platform = civic.platform()
    seed_demo_world(platform)
    subject = platform.pairwise_id("insurer", Subject("GB", "QQ123456C"))
    platform.close()
    made = civic(*_args(subject, "--once", "--valid-days", "7", "--json"))
    assert made.code == 0, made.err
    assert made.json()["frequency"] == "once"
    assert made.json()["state"] == "pending"
    shown = civic(*_args(subject))
    assert shown.code == 0, shown.err
    assert "Your driving record" in shown.out
    civic.fails("overasking", *_args(subject, "--purpose", "marketing"))
    civic.fails("invalid_request", *_args("not-a-pairwise-id"))
    civic.fails("invalid_request", *_args(subject, "--categories", "dpv-pd:Nope"))


def test_an_unreachable_server_is_one_line(civic: Civic) -> None:
    """With --server and nothing listening: server_unreachable, on one line; the wallet
    commands need a wallet first."""
    civic.fails("server_unreachable", *_args("A" * 43, "--server", NOWHERE), CIVIC_ADMIN_TOKEN="t")
    civic.fails("no_wallet", "wallet", "consents", "--server", NOWHERE)
