"""`triage chat`: the Teams conversation in the terminal, against the embedded lab (nothing but Python).

Cards print as text with numbered choices: type a number to press that button. On a terminal, a multi-line
paste is one message: lines that arrive together (within `TOGETHER_S` of each other, as a paste does) are
read as one. Piped input is read line by line, with a multi-line text between two lines of three double
quotes. Runbooks are written as HTML files; the card links to them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import select
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dialogs.api import Conversation, Inbound, Outbound, State
from triage.chat_render import Choice, render_card

__all__ = ["ChatSession", "register"]

PASTE_FENCE = '"""'
TOGETHER_S = 0.05
MAX_MESSAGE = 1 << 20
TERMINAL = "this terminal (printed above)"
_BANNER = (
    "Exchange Triage chat. Type your answers; a number presses that button; paste an error as it is (its lines "
    "arrive together and are read as one message). help, back, restart, cancel, status work at any time; quit "
    "leaves."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="the triage conversation in the terminal, against the embedded lab",
        description="Chat with the triage bot in the terminal. The checks run against a lab scenario on loopback.",
    )
    parser.add_argument(
        "--scenario", default="healthy", metavar="NAME", help="lab scenario (see: triage lab list)"
    )
    parser.add_argument(
        "--runbook-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where runbook pages are written (a temporary folder)",
    )
    parser.set_defaults(func=run_chat)


@dataclass
class ChatSession:
    """One terminal conversation: prints what the bot emits, turns numbers into button presses."""

    conversation: Conversation
    out: TextIO
    user_name: str = "You"
    state: State = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    shown: dict[str, list[str]] = field(default_factory=dict)

    def print(self, line: str = "") -> None:
        self.out.write(line + "\n")
        self.out.flush()

    async def emit(self, outbound: Outbound) -> str | None:
        if outbound.kind == "text":
            self.print(f"bot: {outbound.text}")
        elif outbound.kind == "typing":
            self.print("bot is working…")
        elif outbound.kind == "card" and outbound.card is not None:
            self._card(outbound.card, outbound.card_key)
        elif outbound.kind == "escalation" and outbound.card is not None:
            self.print("----- escalation (posted here: the terminal has no channel) -----")
            for line in render_card(outbound.card).lines:
                self.print(line)
            self.print("----- end of escalation -----")
            return TERMINAL
        elif outbound.kind == "escalation_target":
            return TERMINAL
        return None

    def _card(self, card: dict[str, Any], key: str) -> None:
        rendered = render_card(card)
        before = self.shown.get(key, []) if key else []
        lines = [line for line in rendered.lines if line not in before] if before else rendered.lines
        for line in lines:
            self.print(line)
        if key:
            self.shown[key] = rendered.lines
        if rendered.choices or not key:
            self.choices = rendered.choices

    async def send(self, text: str) -> None:
        stripped = text.strip()
        if stripped.isdigit() and self.choices and 1 <= int(stripped) <= len(self.choices):
            choice = self.choices[int(stripped) - 1]
            if choice.url:
                self.print(f"open: {choice.url}")
                return
            inbound = Inbound(
                "submit", "terminal", user_id="terminal", user_name=self.user_name, value=choice.data or {}
            )
        else:
            inbound = Inbound("message", "terminal", user_id="terminal", user_name=self.user_name, text=text)
        self.state = await self.conversation.handle(self.state, inbound, self.emit)


def _tty_fd(stream: TextIO) -> int | None:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None


def _read_together(fd: int) -> str | None:
    """One message from a terminal: a line, and every line that arrives with it (a paste)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return data.decode("utf-8", "replace").rstrip("\n") if data else None
        data += chunk
    while len(data) < MAX_MESSAGE and select.select([fd], [], [], TOGETHER_S)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").rstrip("\n")


async def _read_from_terminal(fd: int) -> str | None:
    message = await asyncio.to_thread(_read_together, fd)
    if message is None or message.strip() != PASTE_FENCE:
        return message
    # The old way still works: everything up to a closing line of three double quotes.
    pasted: list[str] = []
    while True:
        more = await asyncio.to_thread(_read_together, fd)
        if more is None:
            return "\n".join(pasted)
        lines = more.split("\n")
        if PASTE_FENCE in (line.strip() for line in lines):
            end = [line.strip() for line in lines].index(PASTE_FENCE)
            return "\n".join([*pasted, *lines[:end]])
        pasted += lines


async def _read_message(stream: TextIO) -> str | None:
    fd = _tty_fd(stream)
    if fd is not None:
        return await _read_from_terminal(fd)
    line = await asyncio.to_thread(stream.readline)
    if not line:
        return None
    if line.strip() != PASTE_FENCE:
        return line.rstrip("\n")
    pasted: list[str] = []
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line or line.strip() == PASTE_FENCE:
            return "\n".join(pasted)
        pasted.append(line.rstrip("\n"))


async def chat(session: ChatSession, stream: TextIO) -> None:
    session.print(_BANNER)
    await session.send("")
    while True:
        session.out.write("you> ")
        session.out.flush()
        message = await _read_message(stream)
        if message is None or message.strip().lower() in ("quit", "exit"):
            session.print()
            return
        await session.send(message)


def _publisher(folder: Path) -> Any:
    from bot.remediation_page import runbook_page
    from bot.runbook_schema import parse_runbook

    def write(runbook: dict[str, Any]) -> str:
        page = runbook_page(parse_runbook(runbook), expires_at=int(time.time()) + 7 * 86400)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"runbook-{runbook['cause_id']}-{int(time.time() * 1000)}.html"
        path.write_text(page, encoding="utf-8")
        return path.resolve().as_uri()

    async def publish(runbook: dict[str, Any]) -> str:
        return await asyncio.to_thread(write, runbook)

    return publish


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "there"


@dataclass(frozen=True)
class _ChatSettings:
    backend: str
    scenario: str
    checks_config: Path | None = None


def run_chat(args: argparse.Namespace) -> int:
    from triage.app import build_conversation

    folder = args.runbook_dir or Path(tempfile.mkdtemp(prefix="triage-runbooks-"))
    settings = _ChatSettings(backend="lab", scenario=args.scenario)

    async def main() -> None:
        async with build_conversation(settings, _publisher(folder)) as conversation:
            await chat(ChatSession(conversation, sys.stdout, user_name=_user_name()), sys.stdin)

    asyncio.run(main())
    return 0
