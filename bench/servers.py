"""Bots under measurement, each in its own process on a loopback port: the triage bot (`triage serve`, the
shipped command) and the bare SDK echo bot (`bench.echo_bot`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ROOT",
    "BotProcess",
    "cpu_seconds",
    "free_port",
    "lab_process",
    "live_config",
    "rss_kib",
    "serving",
]

ROOT = Path(__file__).resolve().parent.parent
_START_SECONDS = 60.0


@dataclass(frozen=True)
class BotProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    state_dir: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory (VmRSS) or its peak (VmHWM), in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _command(kind: str, port: int, scenario: str, config: Path | None) -> list[str]:
    if kind == "echo":
        return [sys.executable, "-m", "bench.echo_bot", "--port", str(port)]
    command = [sys.executable, "-m", "triage", "serve", "--port", str(port)]
    if config is not None:
        return [*command, "--backend", "live", "--config", str(config)]
    command += ["--backend", "lab"]
    return [*command, "--scenario", scenario] if scenario else command


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {_START_SECONDS:.0f} s")


@contextmanager
def serving(
    kind: str,
    *,
    scenario: str = "",
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> Iterator[BotProcess]:
    """Start `kind` ("triage" or "echo") in its own process on a free loopback port; stop it afterwards.

    The triage bot serves the lab `scenario` in its own process, or with `config` the live backend it names
    (a lab in another process: `lab_process` and `live_config`)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        state = state_dir or Path(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TRIAGE_STATE_DIR": str(state),
            "TRIAGE_DEV_ANONYMOUS": "1",  # no bot identity: the local development mode (lab backend only)
            **(environ or {}),
        }
        process = subprocess.Popen(
            _command(kind, port, scenario, config), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        try:
            _wait_until_listening(process, port)
            yield BotProcess(kind, f"http://127.0.0.1:{port}", process, state)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@contextmanager
def lab_process(scenario: str) -> Iterator[dict[str, Any]]:
    """`triage lab up --scenario` in its own process, as real backends are; yields its endpoints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "lab", "up", "--scenario", scenario],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoints: dict[str, Any] = json.loads(process.stdout.readline())
        yield endpoints
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def live_config(endpoints: dict[str, Any], tenant: str, directory: Path) -> tuple[Path, dict[str, str]]:
    """A live backend configuration whose servers happen to be the lab's, and the environment holding its
    secrets (the file names the variables, as a real one does)."""
    credentials = endpoints["credentials"]
    host, port = endpoints["psrp"].split("/")[2].split(":")
    ca = endpoints["ca_cert"]
    login = {"username": credentials["username"], "password_env": "BENCH_LAB_PASSWORD", "ca_file": ca}
    config = {
        "exchange": {"server": host, "port": int(port), "path": "PowerShell", "auth": "ntlm", **login},
        "winrm": {"endpoints": endpoints["winrm_servers"], "transport": "ntlm", **login},
        "ews": {"endpoint": endpoints["ews"], "auth": "basic", **login},
        "graph": {
            "tenant_id": credentials["tenant_id"],
            "client_id": credentials["client_id"],
            "client_secret_env": "BENCH_LAB_SECRET",
            "authority": endpoints["token"],
            "graph_url": endpoints["graph"],
            "ca_file": ca,
            "exchange_online_ews": endpoints["ews"],
        },
        "exchange_online": {
            "management_host": "MGMT01",
            "organization": tenant,
            "app_id": credentials["client_id"],
            "certificate_thumbprint": "A" * 40,
            "winrm": {"endpoints": {"MGMT01": endpoints["winrm"]}, "transport": "ntlm", **login},
        },
        "probe": {"ca_file": ca, "hosts": endpoints["vdir_hosts"]},
    }
    path = directory / "live.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    secrets = {
        "BENCH_LAB_PASSWORD": credentials["password"],
        "BENCH_LAB_SECRET": credentials["client_secret"],
    }
    return path, secrets
