"""Explaining a question on request ("what does that mean?", "idk", "how do I tell?", "?"): two lines on
what the question means and how to find the answer, then the question again."""

from __future__ import annotations

__all__ = ["EXAMPLES", "explanation", "how_to_tell"]

# node id -> (what it means, how to find out)
_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "symptom": (
        "I need to know what fails and in which direction: who cannot see whose calendar, or which web page "
        "or app gives an error.",
        "Easiest: tell me the two people, e.g. “Carol can't see Alice's free/busy”, and I look up where their "
        "mailboxes live myself. Or paste the error you see.",
    ),
    "scope": (
        "Is it only these two people, everyone looking in that direction, or the users of one office (AD site)?",
        "Ask the user to open the scheduling assistant and add two or three other colleagues: if only one "
        "person shows hash marks, it is only this pair.",
    ),
    "pair": (
        "The requester is the person who opens the scheduling assistant; the target is the person whose "
        "free/busy shows hash marks or “no information”.",
        "Names or email addresses both work (“Carol can't see Alice”); I find them in the directory.",
    ),
    "affected-user": (
        "I need one user who gets the error, so I can find the server and AD site their mailbox is on.",
        "The user's email address or name is enough; I look the mailbox up myself.",
    ),
    "sites": (
        "An AD site is an office or datacentre with its own Exchange servers; requests between sites are proxied.",
        "Exchange admin center › Recipients › Mailboxes › the user › Mailbox database shows where it lives; "
        "or skip and I continue without it.",
    ),
    "error-text": (
        "The exact error makes the diagnosis much faster, but it is optional.",
        "Hover over the hash marks in the scheduling assistant, or copy the OWA error details, or an event from "
        "the Application log of the Exchange server (MSExchange Availability 4002, MSExchange OWA 42). Or say skip.",
    ),
    "people": (
        "Several mailboxes match the name you gave, or the address looks mistyped.",
        "Press the right person, or type their full email address (the Outlook address book shows it).",
    ),
}

EXAMPLES = (
    "Alice in Exchange Online can't see Bjorn's free/busy, Bjorn is in the Branch office",
    "carol@contoso.com can't see erin@contoso.com, only her",
    "cloud users see hash marks for on-prem people",
    "OWA gives an error for users in the Branch site",
    "paste an error: event 4002, the OWA error details, a Fiddler response",
)


def explanation(node_id: str) -> str:
    """Two lines for the question `node_id` (a general hint for one not listed)."""
    meaning, how = _EXPLANATIONS.get(
        node_id,
        ("I need this to choose the right checks.", "Answer as best you can, or say skip if it is optional."),
    )
    return f"{meaning}\n\n{how}"


def how_to_tell(node_id: str) -> str:
    """Only the second line: how to find the answer."""
    return explanation(node_id).split("\n\n", 1)[1]
