"""``civic verifier`` and ``civic wallet present <request>``: bad input is one error line."""

from __future__ import annotations

from tests.e2e.server import free_port
from tests.unit.cli.conftest import Civic

NOWHERE = f"http://127.0.0.1:{free_port()}"


def test_an_unreachable_server_is_one_line(civic: Civic) -> None:
    """With no platform listening, each command says server_unreachable on one line."""
    civic.fails("server_unreachable", "verifier", "presets", "--server", NOWHERE)
    civic.fails(
        "server_unreachable", "verifier", "result", "abc", "--server", NOWHERE,
        CIVIC_ADMIN_TOKEN="t",
    )  # fmt: skip
    civic.fails(
        "server_unreachable", "verifier", "request", "--preset", "age_over_18",
        "--server", NOWHERE, CIVIC_ADMIN_TOKEN="t",
    )  # fmt: skip


def test_request_needs_a_preset_or_a_query(civic: Civic) -> None:
    """Neither or both of --preset and --dcql is invalid_request, before any call."""
    civic.fails(
        "invalid_request", "verifier", "request", "--server", NOWHERE, CIVIC_ADMIN_TOKEN="t"
    )
    civic.fails(
        "invalid_request", "verifier", "request", "--preset", "identity", "--dcql", "{}",
        "--server", NOWHERE, CIVIC_ADMIN_TOKEN="t",
    )  # fmt: skip
    civic.fails(
        "malformed", "verifier", "request", "--dcql", "{not json", "--server", NOWHERE,
        CIVIC_ADMIN_TOKEN="t",
    )  # fmt: skip


def test_admin_commands_need_a_token(civic: Civic) -> None:
    """Without CIVIC_ADMIN_TOKEN or a token file, admin commands are unauthorized."""
    civic.fails(
        "unauthorized", "verifier", "result", "abc", "--server", NOWHERE, CIVIC_ADMIN_TOKEN=None
    )


def test_present_takes_a_request_or_the_local_options(holding: Civic) -> None:
    """An OpenID4VP request excludes --rp/--purpose/--nonce; without one they are needed;
    a request that is not an openid4vp URI is refused before anything is fetched."""
    holding.fails(
        "invalid_request", "wallet", "present", "openid4vp://?client_id=a&request_uri=https://x/y",
        "--rp", "x",
    )  # fmt: skip
    holding.fails("invalid_request", "wallet", "present")
    holding.fails("invalid_request", "wallet", "present", "not a uri", "--server", NOWHERE, "--yes")
    holding.fails(
        "server_unreachable", "wallet", "present",
        "openid4vp://?client_id=a&request_uri=https://x/y", "--server", NOWHERE, "--yes",
    )  # fmt: skip
