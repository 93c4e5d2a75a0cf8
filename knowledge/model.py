"""The knowledge base's shapes. Each YAML file under knowledge/data is validated against these on load."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "EWS_OPERATIONS",
    "HELPDESK_NAMES",
    "ApplySpec",
    "ApplyStep",
    "CatalogueEntry",
    "CatalogueKind",
    "Cause",
    "CheckSpec",
    "Condition",
    "EventEntry",
    "EventFile",
    "FactSpec",
    "FactType",
    "HelpdeskAdvice",
    "HelpdeskParam",
    "Indicator",
    "Remediation",
    "RemediationParam",
    "RequestMatch",
    "RuleOut",
    "Signature",
    "SignatureFact",
    "Symptom",
    "Transition",
    "Tree",
    "TreeNode",
    "TreeOption",
]

KebabId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
FactName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$")]
Url = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
FactType = Literal["string", "integer", "boolean", "strings", "integers", "records"]
Weight = Annotated[float, Field(gt=0, le=1)]

OPERATORS = ("equals", "in", "contains", "any_of", "matches", "present", "empty", "gte", "lte")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactSpec(Strict):
    type: FactType
    source: Literal["conversation", "reader", "check"]
    description: str
    evidence: str | None = None
    """For a check fact: a regular expression (case-insensitive) over the property of the check's evidence
    rows that show it. The result card shows a matched indicator's rows only from those (of them, the ones
    naming its value when any do): a check's other rows describe the organisation, not the fault."""

    @model_validator(mode="after")
    def _evidence_compiles(self) -> FactSpec:
        if self.evidence is not None:
            try:
                re.compile(self.evidence)
            except re.error as exc:
                raise ValueError(f"evidence is not a valid regular expression: {exc}") from exc
        return self


class Condition(Strict):
    """One test of one fact. Exactly one operator is given."""

    fact: FactName
    equals: str | int | bool | None = None
    in_: list[str | int] | None = Field(default=None, alias="in")
    contains: str | int | None = None
    any_of: list[str | int] | None = None
    matches: str | None = None
    present: bool | None = None
    empty: bool | None = None
    gte: int | None = None
    lte: int | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a condition takes exactly one of {', '.join(OPERATORS)}; got {given or 'none'}"
            )
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches is not a valid regular expression: {exc}") from exc
        return self

    @property
    def operator(self) -> str:
        return next(op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)


class Indicator(Condition):
    """A fact that points to a cause: its weight, and the evidence sentence shown when it matches.

    `says` may name the fact's value as {value}. `also` holds further conditions that must hold too: a fact
    that means something only in a context (a disabled connector matters only where OAuth is in use).
    """

    weight: Weight
    says: str
    also: list[Condition] = []
    generic: bool = False
    """Evidence that many causes share (a reset connection, a bare 401 or 500, a timeout): it weighs little
    alone. The loader also marks every indicator on a generic signature, catalogue entry or bare status."""


class RuleOut(Condition):
    """A fact that excludes a cause (when every `also` condition holds too), and the sentence that says why."""

    says: str
    also: list[Condition] = []


class Symptom(Strict):
    id: KebabId
    title: str
    description: str
    direction: Literal["cloud_to_onprem", "onprem_to_cloud", "cross_forest", "cross_site", "any"]
    examples: list[str] = []
    checks: list[KebabId] = []
    implied_by: list[list[Condition]] = []
    """Groups of conditions; when every condition of a group holds, the facts imply this symptom."""


class TreeOption(Strict):
    value: str
    label: str


class Transition(Strict):
    """Go to `goto` when every condition in `when` holds (an empty `when` always holds)."""

    when: list[Condition] = []
    goto: str


class TreeNode(Strict):
    id: KebabId
    kind: Literal["choice", "pair", "sites", "text", "checks", "conclusion"]
    asks: list[FactName] = []
    prompt: str = ""
    help: str = ""
    options: list[TreeOption] | Literal["symptoms"] = []
    optional: bool = False
    next: list[Transition] = []


class Tree(Strict):
    root: str
    nodes: list[TreeNode]


class CheckSpec(Strict):
    id: KebabId
    title: str
    description: str
    establishes: list[FactName] = []
    needs: list[FactName] = []


class SignatureFact(Strict):
    """A fact a signature sets: a constant `value`, or the regex group `group` (name or number)."""

    fact: FactName
    value: str | int | bool | None = None
    group: str | int | None = None

    @model_validator(mode="after")
    def _value_or_group(self) -> SignatureFact:
        if (self.value is None) == (self.group is None):
            raise ValueError("a signature fact takes exactly one of value or group")
        return self


class Signature(Strict):
    id: KebabId
    title: str
    pattern: str
    ignore_case: bool = True
    sets: list[SignatureFact] = []
    generic: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> Signature:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return self


ParamType = Literal[
    "server", "servers", "thumbprint", "url", "smtp", "domain", "domains", "site", "text", "identity"
]


class RemediationParam(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")]
    type: ParamType
    fact: FactName
    description: str
    format: str = "{value}"
    field: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    """For a `records` fact: the field of each record that fills the parameter. Parameters of one records
    fact go together: a command that names them is repeated once per record, each with that record's values
    (one server's virtual directory with that server's URL), never crossed with another record's."""

    @model_validator(mode="after")
    def _format_has_value(self) -> RemediationParam:
        if "{value}" not in self.format:
            raise ValueError("format must contain {value}")
        return self


# EWS operations a remediation step may name: operation -> its parameters, each fixed to the one value the
# write allow-list (`checks.writes`) accepts, or None where the step fills it ({Requester}, {Sharer}).
# DeleteItem: the hidden IPM.ExternalSharingSubscription item(s) of one sharer in a mailbox's \root\Sharing
# folder, soft-deleted (moved to Recoverable Items, so an administrator can recover them).
EWS_OPERATIONS: dict[str, dict[str, str | None]] = {
    "DeleteItem": {
        "Mailbox": None,
        "Folder": "Sharing",
        "ItemClass": "IPM.ExternalSharingSubscription",
        "Sharer": None,
        "DeleteType": "SoftDelete",
    },
}
StepValue = str | bool | int | None | dict[str, str]  # a dict is a hashtable: @{Add="{Domain}"}
_STEP_PLACEHOLDER = re.compile(r"^\{([A-Za-z0-9]+)\}$")


class ApplyStep(Strict):
    """One write: a cmdlet and its parameters. A value `{Name}` (the whole value) is the remediation
    parameter of that name, or a value an earlier step captured; anything else is a literal. Values are
    sent as parameters, never as script text."""

    cmdlet: Annotated[str, StringConstraints(pattern=r"^[A-Z][a-z]+-[A-Za-z]+$")] | None = None
    # Or a write host template run on the server its `Server` parameter names (its other parameters are the
    # template's arguments, in lower case).
    template: KebabId | None = None
    # Or an EWS operation with the write account (`EWS_OPERATIONS`: the operation and exactly its parameters).
    ews: Literal["DeleteItem"] | None = None
    params: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")], StepValue]
    # The step runs once per value of these list parameters (they must be used in params).
    each: list[str] = []
    # Capture a property of the step's (single) output object under a name later steps can use.
    capture: dict[str, str] = {}
    what_if: bool = True  # the cmdlet takes -WhatIf, so the preview can ask Exchange itself

    @model_validator(mode="after")
    def _cmdlet_or_template(self) -> ApplyStep:
        if sum(kind is not None for kind in (self.cmdlet, self.template, self.ews)) != 1:
            raise ValueError("a step names exactly one of a cmdlet, a template or an ews operation")
        if self.template is not None and "Server" not in self.params:
            raise ValueError("a template step needs a Server parameter")
        if self.ews is not None:
            wanted = EWS_OPERATIONS[self.ews]
            if set(self.params) != set(wanted):
                raise ValueError(f"an ews {self.ews} step takes exactly the parameters {', '.join(wanted)}")
            fixed = {k: v for k, v in wanted.items() if v is not None}
            if any(self.params[k] != v for k, v in fixed.items()):
                raise ValueError(
                    f"an ews {self.ews} step must name " + ", ".join(f"{k}: {v}" for k, v in fixed.items())
                )
            if self.each or self.capture:
                raise ValueError("an ews step takes neither each nor capture")
        return self

    def placeholders(self) -> list[str]:
        names = []
        for value in self.params.values():
            for item in value.values() if isinstance(value, dict) else [value]:
                match = _STEP_PLACEHOLDER.match(item) if isinstance(item, str) else None
                if match:
                    names.append(match.group(1))
        return names


class ApplySpec(Strict):
    """How a remediation is applied by the tool itself, after approval."""

    # Where the writes run: the on-premises Exchange Management Shell endpoint or Exchange Online; or the
    # side a fact names (e.g. target.location for a permission on the target's calendar).
    side: Literal["onprem", "online"] = "onprem"
    side_fact: FactName | None = None
    # The "Fix it" button's words when a cause offers more than one remediation that can be applied.
    label: (
        Annotated[str, StringConstraints(min_length=3, max_length=30, pattern=r"^[a-z][a-z -]*$")] | None
    ) = None
    preview: str  # what will change, in words, with {Name} placeholders (parameters and current values)
    steps: list[ApplyStep] = Field(min_length=1)
    rollback: list[ApplyStep] = []
    verify_checks: list[KebabId] = Field(min_length=1)  # re-run after the change; all must pass
    # Parameters whose *current* value the preview and the rollback need: name -> fact.
    current: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")], FactName] = {}
    # A one-time secret the steps need (e.g. the password of an exported certificate): generated per run,
    # passed as a parameter, never logged, stored or shown.
    one_time_secret: str | None = None


class Remediation(Strict):
    id: KebabId
    summary: str
    changes: bool
    risk: Literal["none", "low", "medium", "high"]
    params: list[RemediationParam] = []
    commands: list[str]
    verify: list[str]
    notes: str = ""
    docs: list[Url] = []
    apply: ApplySpec | None = None

    @model_validator(mode="after")
    def _apply_placeholders_declared(self) -> Remediation:
        if self.apply is None:
            return self
        known = {p.name for p in self.params} | set(self.apply.current)
        if self.apply.one_time_secret:
            known.add(self.apply.one_time_secret)
        for where, steps in (("steps", self.apply.steps), ("rollback", self.apply.rollback)):
            captured: set[str] = set()
            for index, step in enumerate(steps):
                for name in step.placeholders():
                    if name not in known and name not in captured:
                        raise ValueError(f"apply.{where}[{index}] uses {{{name}}} but nothing declares it")
                for name in step.each:
                    if name not in step.placeholders():
                        raise ValueError(
                            f"apply.{where}[{index}].each names {name}, which its params do not use"
                        )
                captured |= set(step.capture)
        for name in re.findall(r"\{([A-Za-z0-9]+)\}", self.apply.preview):
            if name not in known:
                raise ValueError(f"apply.preview uses {{{name}}} but nothing declares it")
        return self

    @model_validator(mode="after")
    def _placeholders_declared(self) -> Remediation:
        declared = {p.name for p in self.params}
        for text in (*self.commands, *self.verify):
            for name in re.findall(r"\{([A-Za-z0-9]+)\}", text):
                if name not in declared:
                    raise ValueError(f"command uses {{{name}}} but params declare no {name}")
        return self


HELPDESK_NAMES = ("Requester", "Target", "RequesterFirst", "TargetFirst")
"""The placeholders every helpdesk text may use: the pair's display names (their addresses when the directory
gave no name), and their first names for a second mention ("Carol" of "Carol Díaz"; the whole name when it
does not read as first name then surname)."""
_HELPDESK_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class HelpdeskParam(Strict):
    """A placeholder of a helpdesk text: the fact that fills it (a list is joined with commas), and the words
    that stand in when the fact is unknown."""

    fact: FactName
    otherwise: str = Field(min_length=1)


class HelpdeskAdvice(Strict):
    """What a first-line helpdesk agent does about a cause, in their words: a `step` they take or ask a user
    to take (`who` acts), with the public `sources` it comes from; or why it needs the Exchange team
    (`escalate`). Texts name people as {Requester} and {Target} and facts as the `params` they declare."""

    step: str | None = None
    """One sentence: what to do or ask for."""
    how: str | None = None
    """For a step: how it is done and why it helps (where to click), shown under it."""
    who: Literal["helpdesk", "requester", "target"] | None = None
    escalate: str | None = None
    params: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]*$")], HelpdeskParam] = {}
    sources: list[Url] = []

    @model_validator(mode="after")
    def _one_kind(self) -> HelpdeskAdvice:
        if (self.step is None) == (self.escalate is None):
            raise ValueError("helpdesk advice takes exactly one of step or escalate")
        if self.step is not None and (self.who is None or not self.sources):
            raise ValueError(
                "a helpdesk step names who takes it (who) and the public pages it comes from (sources)"
            )
        if self.escalate is not None and (self.who is not None or self.how is not None):
            raise ValueError("who and how belong to a step; the Exchange team takes an escalation")
        for name in self.placeholders():
            if name not in HELPDESK_NAMES and name not in self.params:
                known = ", ".join([*HELPDESK_NAMES, *self.params])
                raise ValueError(f"uses {{{name}}}, which is neither a person nor a declared param ({known})")
        return self

    @property
    def text(self) -> str:
        return self.step if self.step is not None else self.escalate or ""

    def placeholders(self) -> list[str]:
        return _HELPDESK_PLACEHOLDER.findall(f"{self.text} {self.how or ''}")


class Cause(Strict):
    id: KebabId
    title: str
    category: Literal[
        "federation_dauth",
        "org_relationship",
        "oauth",
        "identity_sync",
        "permissions_sharing",
        "network_tls",
        "autodiscover_ews_endpoint",
        "cross_forest_availability",
        "owa_cross_site_proxy",
        "ews_cross_site_proxy",
        "kerberos_auth",
        "mailbox_state",
        "server_health",
    ]
    symptoms: list[KebabId]
    explanation: str
    indicators: list[Indicator]
    rule_outs: list[RuleOut] = []
    checks: list[KebabId] = []
    remediations: list[KebabId] = []
    cases: list[str] = []
    docs: Annotated[list[Url], Field(min_length=1)]
    """The public pages the cause comes from: a cause without one is a load error."""
    helpdesk: HelpdeskAdvice | None = None
    """What a first-line helpdesk agent does now; without it, escalate with its category's reason
    (knowledge/data/helpdesk.yaml)."""


Provenance = Annotated[list[Url], Field(min_length=1)]
"""Where an entry's knowledge comes from: at least one public page (Microsoft's event reference, a KB
article, the Exchange team blog, a CSS-Exchange document). An entry without one is a load error."""

CauseWeights = dict[KebabId, Weight]


class EventEntry(Strict):
    """One Windows event an Exchange hybrid admin meets: what it means and which causes it points to.

    The provider (the event's source) is given once per file. `causes` maps a cause id to the weight this
    event adds to it; `generic` marks an event that says little on its own (a bare failure any cause logs).
    """

    event: Annotated[int, Field(ge=1, le=65535)]
    symbolic: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{3,80}$")] | None = None
    level: Literal["Error", "Warning", "Information", "Critical"]
    title: str
    means: str
    sets: list[SignatureFact] = []
    causes: CauseWeights = {}
    checks: list[KebabId] = []
    generic: bool = False
    sources: Provenance


class EventFile(Strict):
    """A file under knowledge/data/events: one provider's events."""

    provider: str
    aliases: list[str] = []
    hints: list[str] = []
    """Words that place an event of this provider when a paste names only its number ("event 43 on the CAS")."""
    events: list[EventEntry]


class RequestMatch(Strict):
    """An HTTP request line (IIS W3SVC log, HttpProxy log, or a URL beside a status): status, optional
    substatus and Win32 status, and a regular expression over the path."""

    status: Annotated[int, Field(ge=100, le=599)]
    substatus: int | None = None
    win32: int | None = None
    path: str = ""
    agent: str = ""
    """A regular expression over the proxying component in the user agent (ASProxy/CrossForest)."""

    @model_validator(mode="after")
    def _compiles(self) -> RequestMatch:
        for name in ("path", "agent"):
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise ValueError(f"{name} is not a valid regular expression: {exc}") from exc
        return self


CatalogueKind = Literal[
    "http",
    "iis",
    "httpproxy",
    "ews-code",
    "aadsts",
    "hcw",
    "cmdlet",
    "w32tm",
    "certutil",
    "nltest",
    "setspn",
    "message",
]


class CatalogueEntry(Strict):
    """One thing an admin pastes that Exchange or Windows prints: an error code, a request line, a line of a
    command's output. It is recognised by exactly one of `code` (an error code the reader lists), `pattern`
    (a regular expression over the paste) or `request`."""

    id: KebabId
    kind: CatalogueKind
    title: str
    code: str | None = None
    pattern: str | None = None
    ignore_case: bool = True
    request: RequestMatch | None = None
    when: list[Condition] = []
    """Facts that must hold too: a line that means this only in a context (a 407 on a cross-site request)."""
    requires: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]] = []
    """Words (lower case) one of which every match of `pattern` holds: a paste without any of them is passed
    over without a search, from its word index."""
    means: str
    sets: list[SignatureFact] = []
    causes: CauseWeights = {}
    checks: list[KebabId] = []
    generic: bool = False
    sources: Provenance

    @model_validator(mode="after")
    def _one_matcher(self) -> CatalogueEntry:
        given = [name for name in ("code", "pattern", "request") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"an entry takes exactly one of code, pattern or request; got {given or 'none'}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return self
