"""`triage run` with Node.js: the bot and the Agents Playground start together, answer, and stop together;
the Playground listens on loopback only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from triage.playground import (
    PlaygroundMissing,
    PortInUse,
    find_playground,
    free_loopback_port,
    start_playground,
)

pytestmark = [pytest.mark.lab, pytest.mark.cli]


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets in LISTEN state on `port`, from the kernel's tables (IPv4 and IPv6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address if len(address) == width else "?")
    return found


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_playground_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_loopback_port()
    # No bot behind it: the Playground serves its page regardless.
    playground = start_playground("http://127.0.0.1:9/api/messages", tmp_path, port=port)
    try:
        assert playground.url == f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(playground.url, timeout=10) as response:
            assert response.status == 200
            assert b"<html" in response.read().lower()
        assert listening_addresses(port) == {"0100007F"}, "127.0.0.1, and nothing on 0.0.0.0 or ::"
        assert (tmp_path / "bin" / "xdg-open").exists()
        assert (tmp_path / "playground.log").exists(), "its log stays in the work folder"
    finally:
        playground.stop()
    assert not playground.running()
    assert refused(port)


def test_a_busy_playground_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} is in use on 127.0.0.1"):
            start_playground("http://127.0.0.1:9/api/messages", tmp_path, port=port)


def test_missing_node_or_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(PlaygroundMissing, match=r"Node\.js \(node\) is not on PATH"):
        find_playground(path=str(tmp_path))
    with pytest.raises(PlaygroundMissing, match="npm ci"):
        find_playground(roots=(tmp_path,))


def run_triage(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage", "run", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "TRIAGE_STATE_DIR": str(state)},
    )


def _taken_meanwhile(result: subprocess.CompletedProcess[str], *ports: int) -> bool:
    """Whether the run failed because a port found free was taken before the run bound it (the machine is
    shared: any process's outgoing connection may get that port in between)."""
    return result.returncode != 0 and any(
        f"('127.0.0.1', {p})" in result.stderr or f"port {p} is in use" in result.stderr for p in ports
    )


def run_on_free_ports(
    args: Callable[[int, int], list[str]], state: Path, *, tries: int = 5
) -> tuple[subprocess.CompletedProcess[str], int, int]:
    """`triage run` with a free bot port and a free Playground port, tried again on fresh ports when one of
    them was taken between finding it free and binding it; (result, bot port, Playground port)."""
    for _ in range(tries):
        bot, playground = free_loopback_port(), free_loopback_port()
        result = run_triage(*args(bot, playground), state=state)
        if not _taken_meanwhile(result, bot, playground):
            return result, bot, playground
    raise AssertionError(f"no two free loopback ports in {tries} tries: {result.stderr}")


def test_run_check_starts_both_then_stops_both(tmp_path: Path) -> None:
    result, bot, playground = run_on_free_ports(
        lambda bot, playground: ["--check", "--port", str(bot), "--playground-port", str(playground)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"Open http://127.0.0.1:{playground}/ in a browser" in result.stdout
    assert f"The bot: http://127.0.0.1:{bot}/api/messages" in result.stdout
    assert "seed-000-federation-cert" in result.stdout
    assert "Try: alice@contoso.com can't see bjorn@contoso.com" in result.stdout
    assert "Check passed" in result.stdout
    assert refused(bot) and refused(playground), "both stopped"
    assert "bot ready: auth=anonymous" in (tmp_path / "run" / "bot.log").read_text()


def test_run_refuses_a_busy_bot_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_triage("--check", "--port", str(port), state=tmp_path)
    assert result.returncode == 1
    assert f"port {port} is in use on 127.0.0.1: choose another with --port" in result.stderr


def test_run_names_the_option_for_a_busy_playground_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result, _, _ = run_on_free_ports(
            lambda bot, _free: ["--check", "--port", str(bot), "--playground-port", str(port)], tmp_path
        )
    assert result.returncode == 1
    assert f"port {port} is in use on 127.0.0.1: choose another with --playground-port" in result.stderr


def test_run_names_an_unknown_scenario(tmp_path: Path) -> None:
    result = run_triage("--scenario", "no-such-scenario", state=tmp_path)
    assert result.returncode == 2
    assert "--scenario no-such-scenario" in result.stderr


def test_ctrl_c_stops_the_bot_and_the_playground(tmp_path: Path) -> None:
    for _ in range(5):  # fresh ports when one found free was taken before the run bound it
        bot, playground = free_loopback_port(), free_loopback_port()
        output = tmp_path / "out.txt"
        with output.open("w") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "triage",
                    "run",
                    "--port",
                    str(bot),
                    "--playground-port",
                    str(playground),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TRIAGE_STATE_DIR": str(tmp_path / "var")},
            )
        deadline = time.monotonic() + 60
        while "Ctrl-C stops both." not in output.read_text() and process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(output.read_text())
            time.sleep(0.1)
        if process.poll() is None or not _taken_meanwhile(
            subprocess.CompletedProcess([], process.returncode, "", output.read_text()), bot, playground
        ):
            break
    try:
        assert not refused(bot) and not refused(playground), output.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, output.read_text()
        assert "Stopping the bot and the Playground." in output.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert refused(bot) and refused(playground)


def test_the_playground_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    port = free_loopback_port()
    starter = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from triage.playground import start_playground\n"
        f"start_playground('http://127.0.0.1:9/api/messages', Path(sys.argv[1]), port={port})\n"
        "print('up', flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        # start_playground gives up within 30 s, and the starter then exits: this read ends either way.
        assert parent.stdout.readline() == "up\n"
        assert not refused(port)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while not refused(port):
        assert time.monotonic() < deadline, "the Playground outlived the process that started it"
        time.sleep(0.1)
