"""`triage lab list` and `triage lab up`: the bundled scenarios, and a running lab to point clients at."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="the simulated hybrid organisation (list scenarios, serve one)",
        description="Serve a simulated Exchange hybrid organisation on loopback over the real protocols.",
    )
    actions = parser.add_subparsers(dest="lab_action", metavar="ACTION")
    actions.required = True

    list_parser = actions.add_parser("list", help="the bundled scenarios")
    list_parser.add_argument("--json", action="store_true", help="print one JSON array")
    list_parser.set_defaults(func=run_list)

    up_parser = actions.add_parser("up", help="serve a scenario until interrupted")
    up_parser.add_argument("--scenario", required=True, metavar="NAME|PATH", help="bundled name or YAML file")
    up_parser.add_argument(
        "--port-base",
        type=int,
        metavar="N",
        help="first of consecutive ports, one per simulator (default: ephemeral)",
    )
    up_parser.add_argument(
        "--kerberos",
        action="store_true",
        help="also run a KDC for the scenario's realm (MIT krb5kdc on loopback): the WinRM and PowerShell "
        "listeners then accept Kerberos; the JSON line names its krb5.conf",
    )
    up_parser.set_defaults(func=run_up)


def _fail(message: str) -> int:
    # The lab imports nothing from `triage`, so it reports usage errors itself, as the CLI would.
    print(f"triage: error: {message}", file=sys.stderr)
    return 2


def run_list(args: argparse.Namespace) -> int:
    from lab.scenario.load import ScenarioError, load_bundled_scenarios

    try:
        scenarios = load_bundled_scenarios()
    except ScenarioError as exc:
        return _fail(str(exc))
    if args.json:
        rows = [
            {
                "name": s.name,
                "description": s.description,
                "failing_pair": s.failing_pair.model_dump() if s.failing_pair else None,
                "working_pair": s.working_pair.model_dump(),
                "expected_causes": list(s.expected_causes),
            }
            for s in scenarios
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    width = max(len(s.name) for s in scenarios)
    for scenario in scenarios:
        print(f"{scenario.name:<{width}}  {scenario.description}")
    return 0


def run_up(args: argparse.Namespace) -> int:
    from lab.auth.kdc import KdcUnavailable, RunningKdc
    from lab.auth.realm import lab_kerberos, start_realm
    from lab.runtime import SIMULATORS, start_lab
    from lab.scenario.load import ScenarioError, load_scenario

    highest = 65535 - len(SIMULATORS)
    if args.port_base is not None and not 1024 <= args.port_base <= highest:
        return _fail(f"--port-base must be between 1024 and {highest}")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        realm: RunningKdc | None = None
        try:
            scenario = load_scenario(args.scenario)
            realm = start_realm(scenario) if args.kerberos else None
            lab = start_lab(
                scenario,
                port_base=args.port_base,
                kerberos=lab_kerberos(realm) if realm else None,
                password=realm.password if realm else None,
            )
        except (ScenarioError, KdcUnavailable, OSError) as exc:
            if realm is not None:
                realm.close()
            if isinstance(exc, OSError):
                return _fail(f"cannot serve the lab: {exc.strerror or exc}")
            return _fail(str(exc))
        try:
            with lab:
                endpoints = dict(lab.endpoints)
                if realm is not None:
                    endpoints["kerberos"] = {
                        "realm": realm.realm,
                        "kdc": realm.address,
                        "krb5_conf": str(realm.krb5_conf),  # KRB5_CONFIG for a client of this lab
                    }
                print(json.dumps(endpoints, ensure_ascii=False), flush=True)
                while not stop.wait(0.2):
                    pass
        finally:
            if realm is not None:
                realm.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
