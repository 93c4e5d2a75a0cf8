"""Bots under measurement, each in its own process on a loopback port: the triage bot (`triage serve`, the
shipped command) and the bare SDK echo bot (`bench.echo_bot`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "BotProcess", "cpu_seconds", "free_port", "rss_kib", "serving"]

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


def _command(kind: str, port: int, scenario: str) -> list[str]:
    if kind == "echo":
        return [sys.executable, "-m", "bench.echo_bot", "--port", str(port)]
    command = [sys.executable, "-m", "triage", "serve", "--port", str(port), "--backend", "lab"]
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
    kind: str, *, scenario: str = "", environ: Mapping[str, str] | None = None, state_dir: Path | None = None
) -> Iterator[BotProcess]:
    """Start `kind` ("triage" or "echo") in its own process on a free loopback port; stop it afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        state = state_dir or Path(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TRIAGE_STATE_DIR": str(state),
            **(environ or {}),
        }
        process = subprocess.Popen(
            _command(kind, port, scenario), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
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
