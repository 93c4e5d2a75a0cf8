"""The runbook a remediation link shows: the shape the conversation hands to `publish_runbook`.

The conversation builds a plain dict of this shape (it may not import `bot`); the host validates it with
`parse_runbook` before storing it, so a malformed runbook fails loudly in the turn that published it.

    {
      "title": "Re-publish the federation certificate",
      "cause_id": "fedcert-missing",           # kebab-case id from knowledge/causes
      "cause_title": "Federation certificate missing on a server",
      "summary": "One paragraph: what is wrong and what the steps do.",
      "steps": [
        {"summary": "Check the certificate", "commands": ["Get-ExchangeCertificate ..."], "changes": False,
         "risk": "none", "verify": ["..."], "docs": ["https://learn.microsoft.com/..."]}
      ],
      "parameters": {"Server": "EX01"},        # the values filled into the commands
      "created_for": "Ada Lovelace",           # who asked (shown on the page)
    }
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["Runbook", "RunbookError", "RunbookStep", "parse_runbook"]


class RunbookStep(TypedDict):
    summary: str
    commands: list[str]
    changes: bool
    risk: str
    verify: list[str]
    docs: list[str]


class Runbook(TypedDict):
    title: str
    cause_id: str
    cause_title: str
    summary: str
    steps: list[RunbookStep]
    parameters: dict[str, str]
    created_for: str


class RunbookError(ValueError):
    """The conversation handed over something that is not a runbook."""


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    summary: str = Field(min_length=1, max_length=500)
    commands: list[str] = Field(default_factory=list, max_length=50)
    changes: bool = False
    risk: str = Field("", max_length=500)
    verify: list[str] = Field(default_factory=list, max_length=50)
    docs: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("docs")
    @classmethod
    def _web_links(cls, value: list[str]) -> list[str]:
        # Only web links become anchors on the page; anything else (javascript:, data:) is refused here.
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"documentation links are http(s) URLs, not {url[:40]!r}")
        return value


class _Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str = Field(min_length=1, max_length=200)
    cause_id: str = Field(min_length=1, max_length=100)
    cause_title: str = Field("", max_length=300)
    summary: str = Field("", max_length=4000)
    steps: list[_Step] = Field(min_length=1, max_length=50)
    parameters: dict[str, str] = Field(default_factory=dict)
    created_for: str = Field("", max_length=200)


def parse_runbook(value: Any) -> Runbook:
    """Validate a runbook dict (missing optional keys get their defaults)."""
    try:
        model = _Runbook.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'runbook'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise RunbookError(f"not a runbook: {problems}") from None
    return cast(Runbook, model.model_dump())
