"""What Windows authentication costs a triage: every check against the lab over NTLM and TLS (HTTPS), against
Kerberos with message encryption over plain HTTP, and the handshake of each client on its own.

`.venv/bin/python -m bench.kerberos [--rounds 3]` (needs MIT Kerberos's KDC: `make install` as root). The lab
runs in its own process (`triage lab up --kerberos`); prints the median and best wall time of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench.servers import ROOT, live_config
from knowledge.loader import load_knowledge
from triage.backends import run_checks_once

__all__ = ["main"]

PAIR = {"requester": "alice@contoso.com", "target": "bjorn@contoso.com"}


def _kerberos_config(endpoints: dict[str, Any], base: Path) -> Path:
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    psrp = urlsplit(endpoints["psrp_http"])
    config["kerberos"] = {
        "principal": endpoints["credentials"]["principal"],
        "password_env": "BENCH_LAB_PASSWORD",
        "krb5_conf": endpoints["kerberos"]["krb5_conf"],
    }
    config["exchange"] = {
        "server": psrp.hostname, "port": psrp.port, "ssl": False, "auth": "kerberos", "spn": "HTTP/ex01.contoso.com",
    }  # fmt: skip
    config["winrm"] = {
        "endpoints": endpoints["winrm_http_servers"], "transport": "kerberos", "spn": "WSMAN/{server}.contoso.com",
    }  # fmt: skip
    config["exchange_online"]["winrm"] = {
        "endpoints": {"MGMT01": endpoints["winrm_http"]}, "transport": "kerberos", "spn": "WSMAN/ex01.contoso.com",
    }  # fmt: skip
    path = base.with_name("kerberos.yaml")
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def _rounds(config: Path, rounds: int) -> list[float]:
    kb = load_knowledge()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        results, _facts = await run_checks_once("live", facts=PAIR, kb=kb, config=config)
        times.append(time.perf_counter() - started)
        failed = [r.id for r in results if r.status != "ok"]
        if failed:
            print(f"  (not ok: {', '.join(failed)})")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "lab", "up", "--scenario", "healthy", "--kerberos"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            print("the lab did not start (is MIT Kerberos's KDC installed?)", file=sys.stderr)
            return 1
        endpoints = json.loads(line)
        with tempfile.TemporaryDirectory(prefix="bench-kerberos-") as directory:
            ntlm, secrets = live_config(endpoints, "contoso.onmicrosoft.com", Path(directory))
            kerberos = _kerberos_config(endpoints, ntlm)
            os.environ.update(secrets)
            for name, config in (("NTLM over HTTPS", ntlm), ("Kerberos over HTTP, encrypted", kerberos)):
                times = asyncio.run(_rounds(config, args.rounds))
                print(
                    f"{name:<32} every check: median {statistics.median(times) * 1000:7.0f} ms, "
                    f"best {min(times) * 1000:7.0f} ms ({args.rounds} rounds)"
                )
    finally:
        process.terminate()
        process.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
