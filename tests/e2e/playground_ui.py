"""The Agents Playground's page as a person uses it: open a chat, type, press card buttons, fill card inputs.

Every wait is bounded by the page's default timeout. Card buttons and inputs are taken from the newest card
that has them (earlier cards stay on screen and keep their buttons, as in Teams).
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page

__all__ = ["ASKED", "BOT_NAME", "PlaygroundPage"]

# A question card, open (its hint) or answered and closed in place (what answered it).
ASKED = re.compile(
    r"You can also type your answer|You chose: |Your answer: |You skipped this question|You pasted the error"
)
BOT_NAME = "Test Bot"  # the Playground's default name for the bot under test
COMPOSER = "[contenteditable=true][role=textbox]"


class PlaygroundPage:
    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts

    def open_personal_chat(self) -> None:
        self.page.get_by_text("Personal Chat", exact=True).first.click()
        self.page.locator(COMPOSER).first.wait_for()

    def open_channel(self, name: str = "General") -> None:
        self.page.get_by_text(name, exact=True).first.click()
        self.page.get_by_role("button", name="Post").wait_for()

    def say(self, text: str) -> None:
        """Type a message in the personal chat and send it."""
        box = self.page.locator(COMPOSER).last
        box.click()
        box.press_sequentially(text)
        self.page.keyboard.press("Enter")

    def post_mentioning_bot(self, text: str) -> None:
        """A new post in the open channel that @mentions the bot (picked from the mention list, as in Teams)."""
        box = self.page.locator(COMPOSER).first
        box.click()
        self.page.keyboard.type("@")
        self.page.get_by_role("menuitem", name=BOT_NAME).click()
        self.page.keyboard.type(" " + text)
        self.page.get_by_role("button", name="Post").click()

    def press(self, title: str) -> None:
        """Press the card button titled `title` on the newest card that has one."""
        self.page.get_by_role("button", name=title, exact=True).last.click()

    def link(self, title: str) -> Locator:
        """An Action.OpenUrl button (the renderer gives it the role of a link)."""
        return self.page.get_by_role("link", name=title, exact=True).last

    def fill(self, label: str, value: str) -> None:
        self.page.get_by_label(label, exact=True).last.fill(value)

    def wait_for_button(self, title: str, timeout: float | None = None) -> None:
        self.page.get_by_role("button", name=title, exact=True).last.wait_for(timeout=timeout)

    def wait_for_text(self, text: str, timeout: float | None = None) -> Locator:
        found = self.page.get_by_text(text).last
        found.wait_for(timeout=timeout)
        return found

    def questions_asked(self) -> int:
        """How many question cards the chat shows, open or answered."""
        return self.page.locator(".ac-adaptiveCard", has_text=ASKED).count()

    def card_with(self, text: str) -> Locator:
        """The newest Adaptive Card that shows `text`."""
        return self.page.locator(".ac-adaptiveCard").filter(has_text=text).last

    def screenshot(self, name: str, of: Locator | None = None) -> Path:
        """The page as shown, or only the element `of`, whole however tall it is."""
        path = self.artifacts / f"{name}.png"
        if of is None:
            self.page.screenshot(path=path)
            return path
        # The chat scrolls inside the page: a window taller than the card shows all of it at once.
        size = self.page.viewport_size
        box = of.bounding_box()
        assert size is not None and box is not None
        self.page.set_viewport_size(
            {"width": size["width"], "height": max(size["height"], int(box["height"]) + 400)}
        )
        try:
            of.scroll_into_view_if_needed()
            of.screenshot(path=path)
        finally:
            self.page.set_viewport_size(size)
        return path
