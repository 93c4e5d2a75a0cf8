"""The SDK side of a turn: every activity the conversation handles becomes a job, answered at once, and the job
runs in a proactive turn (`continue_conversation` with the stored conversation reference) that posts its replies
and updates its cards in place; the AgentApplication answers the activities nobody handles."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    ConversationReference,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    ChannelServiceAdapter,
    ClaimsIdentity,
    Connections,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    TurnState,
)

from bot.escalation_channel import ChannelTarget, Escalations, principal_from_activity, team_key
from bot.fixes import FixDesk
from bot.inbound import classify
from bot.jobs import Job, JobWorker
from bot.outbound import ADAPTIVE_CARD, ConversationGone, TurnEmitter, card_activity
from bot.storage import ConflictError, Store
from bot.turns import TurnRunner, TurnSlots, apology, correlation_id
from dialogs.api import Card, Inbound
from dialogs.fix_card import FIX_ACTIONS
from dialogs.understand import command_of

__all__ = ["JOB_ACTIVITIES", "NO_FIXES", "Answer", "TeamsHost", "build_application", "failure_card"]

logger = logging.getLogger(__name__)

MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
_ACTION_EXECUTE = "adaptiveCard/action"

# The activity types that are handled as jobs (the rest go to the SDK's application, which has no route
# for them and answers at once).
JOB_ACTIVITIES = (ActivityTypes.message, ActivityTypes.conversation_update, ActivityTypes.invoke)

NO_FIXES = "Fixes cannot be applied from Teams here (no write account is configured): nothing was changed."

# An HTTP answer (status, JSON body or None).
Answer = tuple[int, Any]


class TeamsHost:
    """Takes every activity as a job, answers it at once, and runs the job's turn proactively."""

    def __init__(
        self,
        store: Store,
        runner: TurnRunner,
        escalations: Escalations,
        adapter: ChannelServiceAdapter | None = None,
        *,
        identity: ClaimsIdentity | None = None,
        slots: TurnSlots | None = None,
        answer_seconds: float = 0.5,
        fixes: FixDesk | None = None,
    ) -> None:
        self._store = store
        self._runner = runner
        self._escalations = escalations
        self._adapter = adapter
        self._identity = identity or ClaimsIdentity()
        self._slots = slots or TurnSlots(32)
        self._answer_seconds = answer_seconds
        self._fixes = fixes
        self.worker: JobWorker | None = None

    @staticmethod
    def takes(activity: dict[str, Any]) -> bool:
        """Whether an activity (JSON) is handled as a job."""
        kind = activity.get("type")
        if kind == ActivityTypes.invoke:
            return activity.get("name") == _ACTION_EXECUTE
        return kind in JOB_ACTIVITIES

    async def accept(self, activity: Activity, body: dict[str, Any]) -> Answer:
        """Store the activity as a job and answer: 202 (an invoke: 200 and the clicked card if the turn changed
        it within the answer time, else a short acknowledgement; its card is updated when the job gets there).
        An activity id already taken in this conversation is acknowledged and not handled again."""
        invoke = activity.type == ActivityTypes.invoke
        classified = classify(activity)
        if classified.inbound is None and classified.command is None:
            return _acknowledged(invoke)
        if self.worker is None:
            raise RuntimeError("the host's job worker is not running")
        key = _state_key(activity)
        if classified.inbound is not None and _is_cancel(classified.inbound):
            stopped = self.worker.supersede(key)
            if stopped:
                logger.info("cancel in %s: stopped %d running job(s)", key, stopped)
        reference = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        job = Job(key, activity.id or f"unnamed-{uuid.uuid4().hex}", body, reference, parsed=activity)
        ticket = await self.worker.accept(job)
        if ticket is None:
            logger.info(
                "activity %s in %s was taken already (a redelivery): acknowledged", job.activity_id, key
            )
            return _acknowledged(invoke)
        outcome = await ticket.wait(self._answer_seconds)
        if not invoke:
            return 202, None
        card = (
            outcome.updated_cards.get(activity.reply_to_id or "")
            if isinstance(outcome, TurnEmitter)
            else None
        )
        if card is not None:
            response = AdaptiveCardInvokeResponse(status_code=200, type=ADAPTIVE_CARD, value=card)
            return 200, response.model_dump(mode="json", by_alias=True, exclude_none=True)
        return _acknowledged(True)

    async def run_job(self, job: Job) -> TurnEmitter | None:
        """The job's turn, in a proactive turn on its conversation. Errors reach the worker (it retries)."""
        activity = job.parsed if isinstance(job.parsed, Activity) else Activity.model_validate(job.activity)
        outcome: list[TurnEmitter | None] = []
        failures: list[BaseException] = []

        async def turn(context: TurnContext) -> None:
            try:
                outcome.append(await self._handle(context, activity))
            except ConversationGone:
                outcome.append(None)  # logged where it was found; the job is over
            except Exception as error:
                failures.append(error)

        async with self._slots.hold():
            await self._continue(job, turn)
        if failures:
            raise failures[0]
        return outcome[0] if outcome else None

    async def give_up(self, job: Job, why: str) -> None:
        """A job that failed for good: say so in its conversation, with what could not be done."""
        document, _ = await self._store.read(job.key)
        card = failure_card(document, correlation_id())
        logger.error("job %s in %s given up (%s)", job.activity_id, job.key, why)

        async def turn(context: TurnContext) -> None:
            await context.send_activity(card_activity(card))

        await self._continue(job, turn)

    async def _continue(self, job: Job, turn: Any) -> None:
        if self._adapter is None:
            raise RuntimeError("the host has no adapter to continue conversations with")
        reference = ConversationReference.model_validate(job.reference)
        await self._adapter.continue_conversation_with_claims(
            self._identity, reference.get_continuation_activity(), turn
        )

    async def _handle(self, context: TurnContext, activity: Activity) -> TurnEmitter | None:
        classified = classify(activity)
        if classified.command == "set_escalation_channel":
            await self._set_escalation_channel(context, activity)
            return None
        if classified.command == "take_escalation":
            await self._take_escalation(context, activity, classified.value)
            return None
        if classified.bot_added_to_team and classified.inbound is not None:
            await self._remember_team(activity, classified.inbound.team_id)
        if classified.inbound is not None and _is_fix_action(classified.inbound):
            if self._fixes is None:
                await _say_safely(context, NO_FIXES)
            else:
                await self._fixes.handle(context, activity, classified.inbound, self._fix_turn)
            return None
        if classified.inbound is not None:
            return await self._turn(context, activity, classified.inbound)
        return None

    async def _fix_turn(self, context: TurnContext, key: str, inbound: Inbound, activity_id: str) -> None:
        """A turn of a conversation a fix was asked from (its result card updated in place)."""
        await self._runner.run(
            key,
            inbound,
            lambda cards, checkpoint: TurnEmitter(
                context, cards, self._escalations.post, checkpoint, where=self._escalations.where
            ),
            lambda text: _say_safely(context, text),
            activity_id,
        )

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        """Anything the turn runner did not catch: log it with a reference, apologise in chat without details."""
        reference = correlation_id()
        logger.error("turn failed [ref %s]", reference, exc_info=error)
        if context.activity is not None and context.activity.type in (
            ActivityTypes.message,
            ActivityTypes.invoke,
        ):
            await _say_safely(context, apology(reference))

    async def _turn(self, context: TurnContext, activity: Activity, inbound: Inbound) -> TurnEmitter | None:
        asker = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )

        async def _escalate(card: Card, key: str) -> str | None:
            # The conversation the escalation came from is told when someone takes it.
            return await self._escalations.escalate(card, key, asker)

        return await self._runner.run(
            _state_key(activity),
            inbound,
            lambda cards, checkpoint: TurnEmitter(
                context, cards, _escalate, checkpoint, where=self._escalations.where
            ),
            lambda text: _say_safely(context, text),
            activity.id or "",
        )

    async def _set_escalation_channel(self, context: TurnContext, activity: Activity) -> None:
        target = ChannelTarget.from_activity(activity)
        if not target.channel_id or not target.service_url:
            await context.send_activity(MessageFactory.text("I can only do that in a team channel."))
            return
        answer = await self._escalations.choose(target, principal_from_activity(activity))
        await context.send_activity(MessageFactory.text(answer))

    async def _take_escalation(self, context: TurnContext, activity: Activity, value: dict[str, Any]) -> None:
        """ "I'll take it" (or "Take over") pressed on an escalation's card in the channel."""
        answer = await self._escalations.take(
            str(value.get("post") or "")[:100],
            principal_from_activity(activity),
            over=value.get("over") is True,
        )
        if answer:
            await context.send_activity(MessageFactory.text(answer))

    async def _remember_team(self, activity: Activity, team_id: str) -> None:
        target = ChannelTarget.from_activity(activity)
        reference = activity.get_conversation_reference().model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        document = {"team": asdict(target), "reference": reference}
        for _ in range(3):
            _, etag = await self._store.read(team_key(team_id))
            try:
                await self._store.write(team_key(team_id), document, etag)
            except ConflictError:
                continue
            logger.info("bot added to team %s", target.label)
            return


def build_application(host: TeamsHost, connections: Connections) -> AgentApplication[TurnState]:
    """The SDK application for the activities that are not jobs. Conversation state lives in our store."""
    application = AgentApplication[TurnState](
        storage=MemoryStorage(),
        connection_manager=connections,
        remove_recipient_mention=False,
        start_typing_timer=False,
    )
    # Messages, Action.Execute and conversation updates never reach it: they are jobs (`TeamsHost.accept`).
    # What does (another invoke, a reaction) finds no route and is answered as the protocol says.
    application.error(host.on_error)
    return application


def failure_card(document: dict[str, Any], reference: str) -> dict[str, Any]:
    """The card for a job that failed for good: what the triage was about and what could not be checked."""
    found = document.get("said")
    said: dict[str, Any] = found if isinstance(found, dict) else {}
    running = document.get("phase") == "running"
    heading = "I could not run the checks" if running else "I could not finish your last request"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": heading, "weight": "Bolder", "size": "Medium", "wrap": True},
        {
            "type": "TextBlock",
            "wrap": True,
            "text": (
                "None of the checks could be run: every attempt failed on my side, so nothing about this "
                "problem was checked and nothing was changed in Exchange."
                if running
                else "Every attempt to handle it failed on my side; nothing was changed."
            ),
        },
    ]
    facts = [
        {"title": title, "value": str(said[name])[:200]}
        for name, title in (("symptom", "Symptom"), ("requester", "Requester"), ("target", "Target"))
        if said.get(name)
    ]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    body.append(
        {
            "type": "TextBlock",
            "wrap": True,
            "isSubtle": True,
            "text": (
                "Send any message to try the checks again, or say restart. "
                if running
                else "Please send it again. "
            )
            + f"Quote reference {reference} to the helpdesk team if it keeps failing.",
        }
    )
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
    }


def _acknowledged(invoke: bool) -> Answer:
    if not invoke:
        return 202, None
    response = AdaptiveCardInvokeResponse(status_code=200, type=MESSAGE_RESPONSE, value="Received")
    return 200, response.model_dump(mode="json", by_alias=True, exclude_none=True)


def _is_fix_action(inbound: Inbound) -> bool:
    if inbound.kind != "submit":
        return False
    return str(inbound.value.get("action") or inbound.value.get("verb") or "") in FIX_ACTIONS


def _is_cancel(inbound: Inbound) -> bool:
    if inbound.kind == "submit":
        return str(inbound.value.get("action") or inbound.value.get("verb") or "") == "cancel"
    return inbound.kind == "message" and command_of(inbound.text[:200]) == "cancel"


def _state_key(activity: Activity) -> str:
    conversation = activity.conversation.id if activity.conversation else ""
    return f"conv/{activity.channel_id}/{conversation}"


async def _say_safely(context: TurnContext, text: str) -> None:
    try:
        await context.send_activity(MessageFactory.text(text))
    except Exception:
        logger.exception("could not send a message to conversation %s", context.activity.conversation.id)
