"""Walking the decision tree over the facts: which node comes next, and what is still to ask."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.conditions import FactsView, holds
from knowledge.jsonvalue import JsonObject, json_list
from knowledge.loader import KnowledgeBase
from knowledge.model import TreeNode

__all__ = ["Question", "next_node", "open_questions", "path"]


@dataclass(frozen=True)
class Question:
    node: str
    kind: str
    prompt: str
    asks: list[str]
    optional: bool

    def as_dict(self) -> JsonObject:
        return {
            "node": self.node,
            "kind": self.kind,
            "prompt": self.prompt,
            "asks": json_list(self.asks),
            "optional": self.optional,
        }


def _nodes(kb: KnowledgeBase) -> dict[str, TreeNode]:
    return {node.id: node for node in kb.tree.nodes}


def _answered(node: TreeNode, facts: FactsView) -> bool:
    return bool(node.asks) and all(facts.get(fact) is not None for fact in node.asks)


def _follow(node: TreeNode, facts: FactsView) -> str | None:
    for transition in node.next:
        if all(holds(condition, facts) for condition in transition.when):
            return transition.goto
    return None


def path(kb: KnowledgeBase, facts: FactsView) -> list[TreeNode]:
    """The nodes the tree walks for `facts`, from the root to the conclusion (the tree has no cycles)."""
    nodes = _nodes(kb)
    walked: list[TreeNode] = []
    current: str | None = kb.tree.root
    while current is not None and current in nodes and all(n.id != current for n in walked):
        node = nodes[current]
        walked.append(node)
        current = _follow(node, facts)
    return walked


def next_node(kb: KnowledgeBase, facts: FactsView, skipped: frozenset[str] = frozenset()) -> TreeNode:
    """The first node on the path still to ask (or act on): not answered and not skipped by the user."""
    for node in path(kb, facts):
        if node.asks and (_answered(node, facts) or node.id in skipped):
            continue
        return node
    return path(kb, facts)[-1]


def open_questions(kb: KnowledgeBase, facts: FactsView) -> list[Question]:
    """What the conversation would still ask before it runs the checks."""
    questions = []
    for node in path(kb, facts):
        if node.kind in ("checks", "conclusion"):
            break
        if node.asks and not _answered(node, facts):
            questions.append(Question(node.id, node.kind, node.prompt, list(node.asks), node.optional))
    return questions
