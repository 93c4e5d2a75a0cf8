"""Adaptive Card 1.5 building blocks and the question cards the tree's nodes ask with.

Every button is an Action.Submit whose `data` names the action (`{"action": "answer", "node": ..., ...}`);
the host maps Action.Submit and Action.Execute alike to an Inbound of kind "submit" with that data as `value`.
"""

from __future__ import annotations

from typing import Any

from dialogs.api import Card
from dialogs.markdown import escape_markdown
from knowledge.loader import KnowledgeBase
from knowledge.model import TreeNode

__all__ = [
    "CONFIRM_SITES",
    "STATUS_ICONS",
    "card",
    "fact_set",
    "markdown",
    "open_url",
    "question_card",
    "sites_confirm_card",
    "submit",
    "text",
]

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# A word beside each emoji: without an emoji font they render as empty boxes.
STATUS_ICONS = {
    "ok": "✅ ok",
    "warn": "⚠️ warning",
    "fail": "❌ fail",
    "error": "❗ error",
    "skipped": "⏭️ skipped",
    "pending": "⏳ pending",
    "running": "🔄 running",
}
CONFIRM_SITES = "I looked up where the mailboxes live. Is this right?"
COMMANDS_HINT = "You can also type your answer. Say help, back, restart, cancel or status at any time."

Element = dict[str, Any]


def text(value: str, **style: Any) -> Element:
    """A TextBlock showing `value` as it is (markdown characters escaped: see dialogs.markdown)."""
    return {"type": "TextBlock", "text": escape_markdown(value), "wrap": True, **style}


def markdown(value: str, **style: Any) -> Element:
    """A TextBlock whose markdown is the product's own (links to documentation); never user text."""
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def heading(value: str) -> Element:
    return text(value, weight="Bolder", size="Medium")


def subtle(value: str) -> Element:
    return text(value, isSubtle=True, size="Small")


def code(lines: list[str]) -> Element:
    """Commands, one block, monospace so they copy as typed."""
    return text("\n\n".join(lines), fontType="Monospace")


def fact_set(pairs: list[tuple[str, str]]) -> Element:
    return {
        "type": "FactSet",
        "facts": [
            {"title": escape_markdown(title), "value": escape_markdown(value)} for title, value in pairs
        ],
    }


def container(items: list[Element], **style: Any) -> Element:
    return {"type": "Container", "items": items, **style}


def submit(title: str, action: str, **data: Any) -> Element:
    return {"type": "Action.Submit", "title": title, "data": {"action": action, **data}}


def open_url(title: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def text_input(input_id: str, label: str, placeholder: str = "", *, multiline: bool = False) -> Element:
    element: Element = {"type": "Input.Text", "id": input_id, "label": label, "isMultiline": multiline}
    if placeholder:
        element["placeholder"] = placeholder
    return element


def card(body: list[Element], actions: list[Element] | None = None) -> Card:
    built: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if actions:
        built["actions"] = actions
    return built


def _choice_actions(kb: KnowledgeBase, node: TreeNode) -> list[Element]:
    if node.options == "symptoms":
        options = [(s.id, s.title) for s in kb.symptoms.values()]
    else:
        options = [(o.value, o.label) for o in node.options]
    return [submit(label, "answer", node=node.id, value=value) for value, label in options]


def question_card(kb: KnowledgeBase, node: TreeNode, note: str = "") -> Card:
    """The card that asks `node`'s question; `note` goes first (a re-prompt's reason, or what we understood)."""
    body: list[Element] = [text(note, color="Attention")] if note else []
    body.append(heading(node.prompt))
    actions: list[Element] = []
    if node.kind == "choice":
        actions = _choice_actions(kb, node)
    elif node.kind == "pair":
        if "requester" in node.asks:
            body.append(text_input("requester", "Who cannot see (requester)", "alice@contoso.com"))
        body.append(text_input("target", "Whose free/busy or mailbox (target)", "bob@contoso.com"))
        actions = [submit("Next", "answer", node=node.id)]
    elif node.kind == "sites":
        body.append(text_input("site", "AD site", "Branch"))
        actions = [submit("Next", "answer", node=node.id)]
    elif node.kind == "text":
        body.append(text_input("text", "Error text", "Paste it here, or in a message", multiline=True))
        actions = [submit("Read it", "answer", node=node.id)]
    if node.optional:
        actions.append(submit("Skip", "skip", node=node.id))
    body.append(subtle(COMMANDS_HINT))
    return card(body, actions)


def sites_confirm_card(node: TreeNode, rows: list[tuple[str, str]], note: str = "") -> Card:
    """The AD sites the topology check found, shown for confirmation."""
    body: list[Element] = [text(note, color="Attention")] if note else []
    body += [
        heading(CONFIRM_SITES),
        fact_set(rows),
        subtle("If a site is wrong, type the right one for the target. " + COMMANDS_HINT),
    ]
    actions = [
        submit("Yes, that's right", "answer", node=node.id, value="confirm"),
        submit("No, I'll type it", "answer", node=node.id, value="edit"),
    ]
    return card(body, actions)
