"""``python -m stalwart.demo api|simulator|migrate``: the CRM's own processes.

- ``api [--host H] [--port P]``: the HTTP API under uvicorn (SIGTERM: finish requests, 10 s);
- ``simulator --port P --webhook-url URL --ledger FILE [--plan JSON]``: the SMS provider;
- ``migrate``: the CRM's tables (after ``stalwart db upgrade`` for Stalwart's own).

Settings come from ``STALWART_*`` (stores) and ``CRM_*`` (provider, secrets) variables.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stalwart.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="serve the CRM's HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8001)
    simulator = commands.add_parser("simulator", help="run the SMS provider simulator")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8025)
    simulator.add_argument("--webhook-url", required=True)
    simulator.add_argument("--ledger", type=Path, required=True)
    simulator.add_argument("--plan", default="{}", help="fault plan as JSON")
    commands.add_parser("migrate", help="create or upgrade the CRM's tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(name)s] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per webhook is noise
    if args.command == "api":
        import uvicorn

        uvicorn.run(
            "stalwart.demo.api:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            timeout_graceful_shutdown=10,
            log_level="warning",
        )
        return 0
    if args.command == "simulator":
        from stalwart.demo.config import CrmConfig
        from stalwart.demo.simulator.faults import FaultPlan
        from stalwart.demo.simulator.server import serve

        plan = FaultPlan.from_dict(json.loads(args.plan))
        serve(args.host, args.port, args.webhook_url, args.ledger, plan, CrmConfig.from_env())
        return 0
    from stalwart.demo.migrate import upgrade
    from stalwart.demo.tasks import app

    upgrade(app.engine)
    print("CRM tables are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
