"""Look up before asking: once both mailboxes are known, where they live answers the direction, the
symptom and the AD sites, so none of those is asked. A symptom the user gave that the lookup contradicts is
corrected in one line ("You said ..., but ...: I'm going with ...")."""

from __future__ import annotations

from typing import Any

from dialogs.people import reading_state
from dialogs.reading import symptom_of
from dialogs.sites import lookup_topology
from dialogs.turn import Turn

__all__ = ["direction_of", "look_up_pair"]

_DIRECTIONS = {
    ("online", "onprem"): "cloud_to_onprem",
    ("onprem", "online"): "onprem_to_cloud",
    ("onprem", "onprem"): "cross_site",
}
# Symptoms that name a direction: the lookup knows better than a guess among them.
_DIRECTIONAL = (
    "freebusy-cloud-to-onprem",
    "freebusy-onprem-to-cloud",
    "freebusy-cross-site",
)


def direction_of(facts: dict[str, Any]) -> str:
    """The direction the pair's mailbox locations make ("" when the lookup did not place both)."""
    return _DIRECTIONS.get((str(facts.get("requester.location")), str(facts.get("target.location"))), "")


def _where(facts: dict[str, Any], who: str, address: str) -> str:
    if facts.get(f"{who}.location") == "online":
        return f"{address} is in Exchange Online"
    server, site = facts.get(f"{who}.server"), facts.get(f"{who}.site")
    if site:
        return (
            f"{address} is on-premises, on {server} in site {site}"
            if server
            else f"{address} is in site {site}"
        )
    return f"{address} is on-premises" if facts.get(f"{who}.location") == "onprem" else ""


async def look_up_pair(turn: Turn) -> None:
    """When the requester and the target are known and not looked up yet: look them up and apply it."""
    said = turn.state.said
    requester, target = said.get("requester"), said.get("target")
    if not (requester and target):
        return
    state = reading_state(turn)
    key = f"{requester}|{target}"
    if state.get("looked_up") == key:
        return
    state["looked_up"] = key
    turn.state.lookup = None  # the pair changed (a new requester too): what was looked up is not theirs
    lookup = await lookup_topology(turn)
    facts: dict[str, Any] = dict(lookup.facts or {})
    if lookup.status == "error" or not facts.get("target.location"):
        return  # the sites question asks, as before
    places = [_where(facts, who, str(said[who])) for who in ("requester", "target")]
    lines = [f"I looked them up: {'; '.join(p for p in places if p)}."]
    direction = direction_of(facts)
    topic = state.get("topic") or "freebusy"
    wanted = symptom_of(topic, direction) if direction else None
    current = said.get("symptom")
    if wanted and current != wanted and (not current or (topic == "freebusy" and current in _DIRECTIONAL)):
        if current:
            lines.append(
                f"You said “{turn.kb.symptoms[current].title}”, but the lookup says otherwise: I'm going with "
                f"“{turn.kb.symptoms[wanted].title}”."
            )
        said["symptom"] = wanted
    for fact in ("requester.site", "target.site"):
        if facts.get(fact):
            said[fact] = facts[fact]
    if facts.get("target.location") == "online" and "sites" not in turn.state.skipped:
        turn.state.skipped = [*turn.state.skipped, "sites"]  # a cloud mailbox has no AD site to ask
    await turn.say(" ".join(lines))
