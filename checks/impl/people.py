"""directory-names: the people a helpdesk agent named, found in the directory (read-only).

A full address is looked up by identity; a name, an alias or a partial or mistyped address ("Carol",
"carol@", "carol@contso.com") by ambiguous name resolution (`Get-Recipient -Anr`), which matches the start of
the display name, first or last name, alias and addresses, as the Outlook address book does. Every query
gets a record, found or not, so that the conversation never drops a person silently.
"""

from __future__ import annotations

from typing import Any

from checks.context import CheckContext, Finding
from checks.errors import BackendError, NotFound
from checks.registry import check
from checks.remedies import PasteCommand, pasted_remedy
from checks.safety import check_anr
from checks.values import ev
from knowledge.validators import ValueProblem, check_smtp

__all__ = ["MAX_CANDIDATES", "MAX_QUERIES"]

MAX_QUERIES = 4
MAX_CANDIDATES = 8
_PROPERTIES = ("DisplayName", "PrimarySmtpAddress", "Alias", "RecipientTypeDetails")
REMEDY = pasted_remedy(
    [PasteCommand("Get-Recipient", _PROPERTIES, params=(("ResultSize", "20"),), table=True)],
    notes=("Add -Anr <name> for each person named, for example Get-Recipient -Anr Carol.",),
)


def _location(row: dict[str, Any]) -> str:
    kind = str(row.get("RecipientTypeDetails") or "")
    if kind in ("RemoteUserMailbox", "RemoteSharedMailbox", "RemoteRoomMailbox", "MailUser"):
        return "online"
    return "onprem" if kind.endswith("Mailbox") else ""


def _candidate(row: dict[str, Any]) -> dict[str, str]:
    return {
        "address": str(row.get("PrimarySmtpAddress") or ""),
        "name": str(row.get("DisplayName") or row.get("Name") or ""),
        "location": _location(row),
    }


async def _anr(ctx: CheckContext, text: str) -> list[dict[str, str]]:
    try:
        rows = await ctx.exchange.run("Get-Recipient", {"Anr": check_anr(text)})
    except ValueProblem:
        return []
    found = [_candidate(r) for r in rows if r.get("PrimarySmtpAddress")]
    return [c for c in found if c["location"]][:MAX_CANDIDATES]


async def _look_up(ctx: CheckContext, query: str) -> dict[str, Any]:
    """One person: {query, how (identity, name, close), candidates}."""
    text = " ".join(query.split())[:64]
    if "@" in text:
        try:
            address = check_smtp(text)
        except ValueProblem:
            address = ""
        if address:
            try:
                rows = await ctx.exchange.run("Get-Recipient", {"Identity": address})
            except NotFound:
                rows = []
            exact = [_candidate(r) for r in rows if r.get("PrimarySmtpAddress")]
            if exact:
                return {"query": query, "how": "identity", "candidates": exact[:1]}
        # A mistyped or partial address: whoever has its local part is who was meant, to be confirmed.
        local = text.split("@", 1)[0]
        return {"query": query, "how": "close", "candidates": await _anr(ctx, local) if local else []}
    return {"query": query, "how": "name", "candidates": await _anr(ctx, text)}


@check("directory-names", remedy=REMEDY)
async def directory_names(ctx: CheckContext) -> Finding:
    queries = [str(q) for q in ctx.facts.get("people.query") or [] if str(q).strip()][:MAX_QUERIES]
    if not queries:
        return Finding("ok", "No names to look up.", facts={"people.found": []})
    found: list[dict[str, Any]] = []
    evidence = []
    for query in queries:
        try:
            record = await _look_up(ctx, query)
        except BackendError as problem:
            record = {"query": query, "how": "error", "candidates": [], "error": str(problem)[:200]}
        found.append(record)
        shown = ", ".join(c["address"] for c in record["candidates"]) or "nobody"
        evidence.append(ev("Directory", f"Get-Recipient {query[:64]}", shown))
    errors = [r for r in found if r["how"] == "error"]
    if errors and len(errors) == len(found):
        return Finding(
            "error",
            f"Could not search the directory: {errors[0]['error']}",
            evidence,
            {"people.found": found},
        )
    summary = "; ".join(
        f"{r['query']}: {len(r['candidates'])} match{'es' if len(r['candidates']) != 1 else ''}"
        for r in found
    )
    return Finding("ok", f"Looked up {summary}.", evidence, {"people.found": found})
