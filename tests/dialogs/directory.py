"""A check runner that also answers the directory and the topology for a few people, the way the lab's
checks do (the same facts, the same records), so the conversation's use of them can be driven turn by turn."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checks.api import CheckRequest, CheckResult, Progress, ProgressEvent
from dialogs.testing import FakeCheckRunner
from knowledge.jsonvalue import JsonValue


@dataclass(frozen=True)
class Box:
    address: str
    name: str
    location: str  # online | onprem
    server: str = ""
    site: str = ""


PEOPLE = (
    Box("alice@contoso.com", "Alice Martin", "online"),
    Box("alan@contoso.com", "Alan Moore", "online"),
    Box("erin@contoso.com", "Erin Müller", "online"),
    Box("bjorn@contoso.com", "Bjørn Ødegård", "onprem", "EX03", "Branch"),
    Box("carol@contoso.com", "Carol Díaz", "onprem", "EX01", "HQ"),
    Box("frank@contoso.com", "François Lefèvre", "onprem", "EX02", "HQ"),
)


def _anr(text: str) -> list[Box]:
    wanted = text.casefold()
    return [
        b
        for b in PEOPLE
        if any(
            f.startswith(wanted)
            for f in (b.address.casefold(), *b.name.casefold().split(), b.name.casefold())
        )
    ]


def _record(query: str) -> JsonValue:
    def row(box: Box) -> JsonValue:
        return {"address": box.address, "name": box.name, "location": box.location}

    if "@" in query:
        exact = [b for b in PEOPLE if b.address == query.casefold()]
        if exact:
            return {"query": query, "how": "identity", "candidates": [row(exact[0])]}
        return {"query": query, "how": "close", "candidates": [row(b) for b in _anr(query.split("@")[0])]}
    return {"query": query, "how": "name", "candidates": [row(b) for b in _anr(query)]}


class DirectoryRunner(FakeCheckRunner):
    """`FakeCheckRunner` plus directory-names and topology answered from `PEOPLE`."""

    def __init__(self, results: Iterable[CheckResult] = (), *, directory: bool = True) -> None:
        super().__init__([r for r in results if r.id != "topology"])
        self.directory = directory

    async def run(self, request: CheckRequest, progress: Progress) -> list[CheckResult]:
        own = [c for c in request.check_ids if c in ("directory-names", "topology")]
        rest = [c for c in request.check_ids if c not in own]
        out = (
            await super().run(CheckRequest(tuple(rest), request.facts, request.pasted), progress)
            if rest
            else []
        )
        if not rest:
            self.requests.append(request)
        for check_id in own:
            await progress(ProgressEvent("started", check_id, check_id))
            result = self._directory(request) if check_id == "directory-names" else self._topology(request)
            await progress(ProgressEvent("finished", check_id, check_id, result))
            out.append(result)
        return out

    def _directory(self, request: CheckRequest) -> CheckResult:
        if not self.directory:
            return CheckResult("directory-names", "skipped", "No Exchange backend is configured.")
        asked = request.facts.get("people.query")
        found: list[JsonValue] = [_record(str(q)) for q in asked] if isinstance(asked, list) else []
        return CheckResult("directory-names", "ok", "Looked up.", facts={"people.found": found})

    def _topology(self, request: CheckRequest) -> CheckResult:
        facts: dict[str, JsonValue] = {}
        for role in ("requester", "target"):
            box = next((b for b in PEOPLE if b.address == request.facts.get(role)), None)
            if box is None:
                continue
            facts[f"{role}.location"] = box.location
            if box.location == "onprem":
                facts[f"{role}.server"], facts[f"{role}.site"] = box.server, box.site
        return CheckResult("topology", "ok", "Where the mailboxes live.", facts=facts)
