"""Azurite (the Azure Storage emulator from npm) on loopback ephemeral ports: its blob service for the blob
store's tests, and its queue service beside it for the job queue's."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
AZURITE_QUEUE = ROOT / "node_modules" / ".bin" / "azurite-queue"

# The emulator's published development account (not a secret: it is the same in every Azurite).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_LISTENING = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")


def connection_string(port: int, queue_port: int | None = None) -> str:
    queue = f"QueueEndpoint=http://127.0.0.1:{queue_port}/{ACCOUNT};" if queue_port else ""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};{queue}"
    )


@contextmanager
def running_azurite(timeout: float = 30.0) -> Iterator[str]:
    """Start Azurite's blob service and yield a connection string to it."""
    with _service(AZURITE, "blob", timeout) as port:
        yield connection_string(port)


@contextmanager
def running_azurite_with_queue(timeout: float = 30.0) -> Iterator[str]:
    """Start Azurite's blob and queue services and yield one connection string to both (one account)."""
    with _service(AZURITE, "blob", timeout) as blob, _service(AZURITE_QUEUE, "queue", timeout) as queue:
        yield connection_string(blob, queue)


@contextmanager
def _service(program: Path, service: str, timeout: float) -> Iterator[int]:
    if not program.exists():
        raise RuntimeError(f"{program} is missing: run `make install` (it runs `npm ci`) first")
    # In-memory persistence; the working directory only catches anything Azurite writes regardless.
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        command = [
            str(program),
            f"--{service}Host",
            "127.0.0.1",
            f"--{service}Port",
            "0",
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
        ]
        process = subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            yield _wait_for_port(process, timeout)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _wait_for_port(process: subprocess.Popen[str], timeout: float) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        match = _LISTENING.search(line)
        if match:
            return int(match.group(1))
    raise RuntimeError("Azurite did not start: " + " | ".join(seen[-5:]))
