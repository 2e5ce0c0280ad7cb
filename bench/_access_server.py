"""The server ``bench/access.py`` measures: the platform app with the exchange, in one process.

``python -m bench._access_server --data DIR --port P --mode logged|unlogged [--database URL]``
builds a :class:`~civicstack.platform.Platform` on ``DIR`` (SQLite there, or ``--database``),
seeds the demo world and the exchange's data services, gives ``--citizens`` synthetic citizens'
consents to the insurer for their DVLA driving record (real ones: asked by the insurer and
answered with each citizen's PID presentation and signature through ``Platform.consents``, by
:class:`~civicstack.testing.ConsentGiver`), writes
the fetch requests and the insurer's API key to ``DIR/fixture.json``, then serves the app as
``civic up --workers 1`` does (uvicorn, uvloop, httptools, no access log).

``--mode unlogged`` swaps the exchange's access log for :class:`UnsafeNoAccessLog`: the bench's
peer, the same fetch with nothing logged. Nothing in the platform can build that; only here.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import uvicorn

from civicstack.api.app import create_app, max_body, start_access_log_writer, wrap
from civicstack.demo.world import seed_demo_world, seed_exchange_world
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.services.exchange import UnsafeNoAccessLog
from civicstack.services.verifier import Caller
from civicstack.settings import Settings
from civicstack.testing import ConsentGiver

CATEGORIES = ["dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"]


def main() -> None:
    """Seed, write the fixture, serve."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("logged", "unlogged"), required=True)
    parser.add_argument("--database")
    parser.add_argument("--citizens", type=int, default=256)
    args = parser.parse_args()
    env = {
        "CIVIC_DATA_DIR": str(args.data),
        "CIVIC_BASE_URL": f"http://127.0.0.1:{args.port}",
        # the insurer asks every synthetic citizen at seeding, beyond the default 120 a minute
        "CIVIC_LIMIT_CONSENT_REQUESTS_PER_MINUTE": str(max(120, args.citizens)),
        # as `civic up` runs it: the access log's writer in a process of its own
        "CIVIC_ACCESS_LOG_WRITER": os.environ.get("CIVIC_ACCESS_LOG_WRITER", "process"),
    }
    if args.database:
        env["CIVIC_DATABASE_URL"] = args.database
    platform = Platform(Settings.from_env(env))
    platform.migrate()
    seed_demo_world(platform)
    seed_exchange_world(platform)
    consents = ConsentGiver(platform)
    citizens = [Subject("GB", f"BN{n:06d}X") for n in range(args.citizens)]
    from civicstack.demo.world import demo_record

    admin = Caller(None)
    platform.exchange.put_records(
        admin,
        "dvla",
        "driving-record",
        [(platform.pairwise_id("dvla", c), demo_record("dvla", c.number)) for c in citizens],
    )
    bodies = []
    for citizen in citizens:
        consent = consents.give(
            citizen,
            requester="insurer",
            provider="dvla",
            purpose="insurance_quote",
            categories=CATEGORIES,
        )
        bodies.append(
            {
                "consent": consent,
                "provider": "dvla",
                "service": "driving-record",
                "purpose": "insurance_quote",
                "subject": platform.pairwise_id("insurer", citizen),
                "categories": CATEGORIES,
            }
        )
    key = platform.verifier.issue_api_key("insurer")[1]
    if args.mode == "unlogged":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            platform.exchange.access_log = UnsafeNoAccessLog()
    app = wrap(create_app(platform), max_body=max_body(platform))
    start_access_log_writer(platform)  # as `civic up`'s workers do
    (args.data / "fixture.json").write_text(json.dumps({"key": key, "bodies": bodies}))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
