"""The Microsoft 365 Agents Playground (npm): a local Teams-like client for the bot, run as one child process.

It comes from `node_modules` (`make install` runs `npm ci`; nothing is downloaded at run time). What makes it
fit here: `TEAMSAPPTESTER_BROWSER=none` and a no-op `xdg-open` first on PATH (on a machine without a desktop
it would try to open a browser and exit), and `playground_preload.cjs`, which makes it listen on 127.0.0.1
only (on its own it listens on every interface) and end when the process that started it is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "DEFAULT_PORT",
    "PACKAGE",
    "Installed",
    "Playground",
    "PlaygroundError",
    "PlaygroundMissing",
    "PortInUse",
    "find_playground",
    "free_loopback_port",
    "start_playground",
    "stop_process_group",
]

PACKAGE = "@microsoft/m365agentsplayground"
DEFAULT_PORT = 56150
SOURCE_ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"^Listening on (\d+)\s*$", re.MULTILINE)


class PlaygroundMissing(Exception):
    """Node.js or the Playground package is not installed."""


class PlaygroundError(Exception):
    """The Playground did not start (its output is in the message)."""


class PortInUse(PlaygroundError):
    """The port asked for is taken (the Playground would have picked another one)."""


@dataclass(frozen=True)
class Installed:
    """Where node and the Playground's command line are."""

    node: str
    cli: Path


def find_playground(roots: Sequence[Path] = (), path: str | None = None) -> Installed:
    """Node on `path` (PATH by default) and the Playground in `roots`/node_modules (default: the working
    directory, then the source checkout)."""
    node = shutil.which("node", path=path)
    if node is None:
        raise PlaygroundMissing("Node.js (node) is not on PATH")
    for root in roots or (Path.cwd(), SOURCE_ROOT):
        cli = root / "node_modules" / PACKAGE / "cli.js"
        if cli.is_file():
            return Installed(node, cli)
    raise PlaygroundMissing(f"{PACKAGE} is not installed (run `npm ci` in the project folder)")


def free_loopback_port() -> int:
    """A port nothing listens on right now (the Playground picks a random one itself if it is taken since)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Playground:
    """One running Playground; `stop()` ends it and everything it started."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, output: Path) -> None:
        self.process = process
        self.port = port
        self.output = output

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        stop_process_group(self.process, timeout)


def start_playground(
    bot_endpoint: str,
    workdir: Path,
    *,
    port: int = DEFAULT_PORT,
    installed: Installed | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Playground:
    """Start the Playground against `bot_endpoint` (…/api/messages) as a Teams client; wait until it listens.

    Its log, output and configuration stay in `workdir`.
    """
    installed = installed or find_playground()
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "playground.out"
    command = [
        installed.node,
        str(installed.cli),
        *("--app-endpoint", bot_endpoint, "--channel-id", "msteams", "--port", str(port)),
        *("--service-url", f"http://127.0.0.1:{port}/_connector", "--disable-telemetry"),
    ]
    with output.open("wb") as sink:
        # A session of its own: a Ctrl-C in the terminal reaches us, and we stop it in order.
        process = subprocess.Popen(  # noqa: S603 - a fixed command line: node and the installed package
            command,
            cwd=workdir,
            env=_environment(environ if environ is not None else os.environ, workdir),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        listening = _wait_listening(process, output, timeout)
    except BaseException:
        stop_process_group(process, 5.0)
        raise
    if listening != port:
        stop_process_group(process, 5.0)
        raise PortInUse(f"port {port} is in use on 127.0.0.1")
    return Playground(process, port, output)


def _environment(environ: Mapping[str, str], workdir: Path) -> dict[str, str]:
    shims = workdir / "bin"
    shims.mkdir(exist_ok=True)
    opener = shims / "xdg-open"
    opener.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    opener.chmod(0o755)
    preload = resources.files("triage").joinpath("playground_preload.cjs")
    node_options = f'{environ.get("NODE_OPTIONS", "")} --require "{preload}"'.strip()
    return {
        **environ,
        "PATH": os.pathsep.join([str(shims), environ.get("PATH", os.defpath)]),
        "NODE_OPTIONS": node_options,
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / "playground.log"),
        # Its configuration file (a mocked user, team and channels) is optional; the defaults are used.
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(workdir / ".m365agentsplayground.yml"),
    }


def _wait_listening(process: subprocess.Popen[bytes], output: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.read_text(encoding="utf-8", errors="replace")
        match = _LISTENING.search(text)
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise PlaygroundError(f"the Playground exited ({process.returncode}): {_tail(text)}")
        time.sleep(0.05)
    raise PlaygroundError(f"the Playground did not start within {timeout:.0f} s: {_tail(output.read_text())}")


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:]) or "(no output)"


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process group of `process` (started with a session of its own), SIGKILL to whatever is
    left after `timeout`."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # Node may leave children behind even when it exits itself; the group goes in any case.
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
