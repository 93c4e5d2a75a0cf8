"""The welcome when the app is installed: in a personal chat a card that says what the bot does, what to type
first (with an example) and `help`; in a group chat a short note that says to @mention the bot, because Teams
delivers a group chat's messages to a bot only when they mention it. A team gets its own message
(`dialogs.engine`)."""

from __future__ import annotations

from dialogs.api import Card
from dialogs.cards import card, heading, submit, subtle, text

__all__ = ["FIRST_MESSAGE", "GROUP_WELCOME", "welcome_card"]

FIRST_MESSAGE = "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office"
GROUP_WELCOME = (
    "Thanks for adding me. I triage Exchange free/busy and cross-site proxy problems. In a group chat Teams "
    "shows me only messages that @mention me: mention me with what the user reported, for example "
    f"“@Exchange Triage {FIRST_MESSAGE}”, or with help to see what I understand."
)


def welcome_card() -> Card:
    """What the bot does, what to type first, and help."""
    return card(
        [
            heading("Hi! I triage Exchange free/busy and cross-site proxy problems."),
            text(
                "Tell me what the user reported, in your own words. I look the mailboxes up, run read-only "
                "checks on the Exchange organisation and tell you the likely cause and what to do now, or hand "
                "it to the Exchange team with everything I found."
            ),
            text("To start, type for example:", weight="Bolder"),
            text(FIRST_MESSAGE, fontType="Monospace"),
            text(
                "or paste the error as it is: an event 4002 or 42, the OWA error details, a Fiddler response."
            ),
            subtle(
                "Say help for what I understand, with examples. My checks only read: nothing is changed in "
                "Exchange unless an approver approves a Fix it."
            ),
        ],
        [submit("Help", "help")],
    )
