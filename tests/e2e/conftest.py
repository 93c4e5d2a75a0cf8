"""End-to-end equipment: `triage serve` on a lab scenario, the Agents Playground in front of it and the
system's Chromium driven by Playwright (never a downloaded browser). Everything listens on 127.0.0.1 and
everything started here is stopped here, also when a test fails. Screenshots and logs go to artifacts/e2e/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.e2e.playground_ui import PlaygroundPage
from triage.playground import Playground, free_loopback_port, start_playground

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCENARIO = "seed-000-federation-cert"
START_TIMEOUT = 60.0
ACTION_TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Stack:
    bot_url: str
    playground: Playground
    state_dir: Path  # the bot's TRIAGE_STATE_DIR (its SQLite store)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def stack(
    artifacts: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """`triage serve` on the lab scenario (the test module's `SCENARIO`, else seed-000) and the Playground,
    both on loopback ports of their own."""
    port = free_loopback_port()
    scenario = str(getattr(request.module, "SCENARIO", SCENARIO))
    state_dir = tmp_path_factory.mktemp("bot-state")
    bot = _start_bot(port, state_dir, artifacts / "bot.log", scenario)
    playground: Playground | None = None
    try:
        bot_url = f"http://127.0.0.1:{port}"
        _wait_healthy(bot, bot_url, artifacts / "bot.log")
        playground = start_playground(
            f"{bot_url}/api/messages", artifacts / "playground", port=free_loopback_port()
        )
        yield Stack(bot_url, playground, state_dir)
    finally:
        if playground is not None:
            playground.stop()
        _stop(bot)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (as root: apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = _launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def ui(stack: Stack, browser: Browser, artifacts: Path) -> Iterator[PlaygroundPage]:
    """The Playground's page, opened once per module (reloading it would wipe the chats)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.goto(stack.playground.url, wait_until="networkidle", timeout=30_000)
        yield PlaygroundPage(page, artifacts)
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A screenshot of the page as it was when a test (or the conversation a fixture drives) failed."""
    report = yield
    ui = getattr(item, "funcargs", {}).get("ui")
    if report.failed and report.when in ("setup", "call") and isinstance(ui, PlaygroundPage):
        try:
            shot = ui.screenshot(f"failed-{item.name}")
            last_card = ui.page.locator(".ac-adaptiveCard").last.inner_text(timeout=2_000)
        except Exception as exc:  # the browser itself may be what failed
            report.sections.append(("page", f"no screenshot: {exc}"))
        else:
            report.sections.append(("page", f"screenshot: {shot}\nthe newest card says:\n{last_card}"))
        report.sections.append(("bot log (end)", _tail(ARTIFACTS / "bot.log")))
    return report


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"unreadable: {exc}"


def _start_bot(port: int, state: Path, log: Path, scenario: str = SCENARIO) -> subprocess.Popen[bytes]:
    # Only this suite's settings: no bot identity or escalation channel from the calling environment.
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "CONNECTIONS__"))}
    environ["TRIAGE_STATE_DIR"] = str(state)
    environ["TRIAGE_DEV_ANONYMOUS"] = "1"
    command = [sys.executable, "-m", "triage", "serve", "--scenario", scenario, "--port", str(port)]
    # In the test run's own process group: whatever stops the run stops the bot with it.
    with log.open("wb") as sink:
        return subprocess.Popen(
            command, cwd=ROOT, env=environ, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(bot: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            pytest.fail(f"triage serve exited ({bot.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"triage serve did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()[-2000:]}")


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=30_000
    )
