"""`triage run`, the main job: the bot on a lab scenario with the Microsoft 365 Agents Playground (a local
Teams-like client) in front of it, until Ctrl-C. Without Node.js or the Playground it falls back to
`triage chat`, the same conversation in the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from triage.playground import Installed, Playground

__all__ = ["DEFAULT_SCENARIO", "register_run", "run_main_job"]

logger = logging.getLogger(__name__)

DEFAULT_SCENARIO = "seed-000-federation-cert"
BOT_PORT = 3978
START_TIMEOUT = 60.0
# The main job is local: only these keys of the environment apply (never a bot identity: the Playground
# talks to an anonymous bot on loopback).
LOCAL_KEYS = ("TRIAGE_STATE_DIR", "TRIAGE_LOG_LEVEL", "TRIAGE_LINK_TTL_HOURS")


class StartFailed(Exception):
    """The bot or the Playground could not start; the message says why."""


def register_run(subparsers: Any) -> None:
    from triage.playground import DEFAULT_PORT

    parser = subparsers.add_parser(
        "run",
        help="the main job: the bot on the lab, in a local Teams-like client",
        description="Serve the bot on a lab scenario (127.0.0.1) and start the Microsoft 365 Agents Playground "
        "in front of it; open the printed address in a browser. Ctrl-C stops both. Without Node.js, the "
        "terminal chat (triage chat) starts instead.",
    )
    parser.add_argument(
        "--scenario", default=DEFAULT_SCENARIO, metavar="NAME", help="lab scenario (see: triage lab list)"
    )
    parser.add_argument("--port", type=int, default=BOT_PORT, help=f"the bot's port (default {BOT_PORT})")
    parser.add_argument(
        "--playground-port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the Playground's port (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="start both, check that both answer, then stop (exit 0 when they did)",
    )
    parser.set_defaults(func=run_main_job)


def run_main_job(args: argparse.Namespace) -> int:
    from bot.settings import SettingsError, load_settings
    from triage.playground import PlaygroundMissing, find_playground

    hint = _scenario_hint(args.scenario)
    try:
        installed = find_playground()
    except PlaygroundMissing as exc:
        print(
            f"triage run: {exc}. The Teams-like client needs Node.js 20 and `npm ci` (make install); "
            "starting the terminal chat instead (triage chat).",
            file=sys.stderr,
        )
        if args.check:
            return 1
        from triage.chat import run_chat

        return run_chat(argparse.Namespace(scenario=args.scenario, runbook_dir=None))
    environ = {key: os.environ[key] for key in LOCAL_KEYS if key in os.environ}
    try:
        settings = load_settings(
            environ,
            host="127.0.0.1",
            port=args.port,
            backend="lab",
            scenario=args.scenario,
            dev_anonymous=True,  # a local demo: the Teams-like client on loopback, no bot identity
        )
    except SettingsError as exc:
        print(f"triage run: cannot start:\n{exc}", file=sys.stderr)
        return 2
    job = MainJob(settings, installed, args.playground_port, hint)
    return asyncio.run(job.run(check=args.check))


def _scenario_hint(name: str) -> str:
    """What the scenario breaks and a pair of users to try, for the banner (a usage error if unknown)."""
    from lab.scenario.load import ScenarioError, load_scenario
    from triage.usage import UsageError

    try:
        scenario = load_scenario(name)
    except (ScenarioError, OSError) as exc:
        raise UsageError(f"--scenario {name}: {exc}") from None
    pair = scenario.failing_pair or scenario.working_pair
    return f"{scenario.name}: {scenario.description}\n  Try: {pair.requester} can't see {pair.target}"


class MainJob:
    """The bot served in this process, the Playground as a child process; both stop together."""

    def __init__(self, settings: Settings, installed: Installed, playground_port: int, hint: str) -> None:
        self.settings = settings
        self.installed = installed
        self.playground_port = playground_port
        self.hint = hint
        self.workdir = settings.state_dir / "run"

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    async def run(self, *, check: bool) -> int:
        from triage.playground import PlaygroundError, PortInUse

        self.workdir.mkdir(parents=True, exist_ok=True)
        _log_to(self.workdir / "bot.log", self.settings.log_level)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        try:
            _port_is_free(self.settings.port, "--port")
        except StartFailed as exc:
            print(f"triage run: {exc}", file=sys.stderr)
            return 1
        bot = asyncio.create_task(self._serve(stop))
        playground: Playground | None = None
        try:
            await self._wait_healthy(bot)
            playground = await asyncio.to_thread(self._start_playground)
            print(self._banner(playground.url), flush=True)
            if check:
                await _fetch(playground.url)
                print("Check passed: the bot and the Playground both answer. Stopping.", flush=True)
                return 0
            return await self._until_stopped(stop, bot, playground)
        except PortInUse as exc:
            print(f"triage run: {exc}: choose another with --playground-port", file=sys.stderr)
            return 1
        except (StartFailed, PlaygroundError, OSError) as exc:
            print(f"triage run: {exc}", file=sys.stderr)
            return 1
        finally:
            if playground is not None:
                await asyncio.to_thread(playground.stop)
            stop.set()
            await _finished(bot)

    async def _serve(self, stop: asyncio.Event) -> None:
        from bot.server import serve
        from triage.app import build_conversation

        settings = self.settings
        await serve(settings, lambda publish: build_conversation(settings, publish), stop)

    def _start_playground(self) -> Playground:
        from triage.playground import start_playground

        endpoint = f"{self.bot_url}/api/messages"
        return start_playground(endpoint, self.workdir, port=self.playground_port, installed=self.installed)

    async def _wait_healthy(self, bot: asyncio.Task[None]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if bot.done():
                raise StartFailed(f"the bot did not start: {_failure(bot)} (log: {self.workdir / 'bot.log'})")
            try:
                await _fetch(f"{self.bot_url}/healthz")
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise StartFailed(f"the bot did not answer within {START_TIMEOUT:.0f} s")

    async def _until_stopped(
        self, stop: asyncio.Event, bot: asyncio.Task[None], playground: Playground
    ) -> int:
        while not stop.is_set():
            if bot.done():
                print(f"triage run: the bot stopped: {_failure(bot)}", file=sys.stderr)
                return 1
            if not playground.running():
                print(f"triage run: the Playground stopped (output: {playground.output})", file=sys.stderr)
                return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        print("\nStopping the bot and the Playground.", flush=True)
        return 0

    def _banner(self, url: str) -> str:
        return "\n".join(
            [
                "Exchange Triage is running on the lab scenario " + self.hint,
                "",
                f"  Open {url} in a browser (the Microsoft 365 Agents Playground, a local Teams-like client)",
                "  and say hi in Personal Chat. To have escalations posted in a channel, open General and",
                '  mention the bot there with "set escalation channel".',
                "",
                f"  The bot: {self.bot_url}/api/messages (log: {self.workdir / 'bot.log'})",
                "Ctrl-C stops both.",
            ]
        )


async def _fetch(url: str) -> None:
    """GET `url`; OSError unless it answers 200."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                raise OSError(f"{url} answered {response.status}")
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OSError(str(exc)) from exc


def _port_is_free(port: int, option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server binds: a port left in TIME_WAIT by an earlier run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise StartFailed(f"port {port} is in use on 127.0.0.1: choose another with {option}") from None


async def _finished(bot: asyncio.Task[None]) -> None:
    """Wait for the bot to stop serving (its stop event is set); how it ended goes to the log."""
    try:
        await asyncio.wait_for(bot, 15)
    except Exception:
        logger.exception("the bot stopped on an error")


def _failure(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return f"{type(error).__name__}: {error}" if error else "it exited"


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _log_to(path: Path, level: str) -> None:
    # The terminal shows the banner; the SDK's per-turn lines go to the log file.
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("azure").setLevel(logging.WARNING)
