"""EWS availability: GetUserAvailability (free/busy) and GetServerTimeZones.

Free/busy is answered as the caller: the impersonated mailbox (ExchangeImpersonation header, which
exchangelib sends for OAuth credentials with an identity) or, without one, the service account. A pair
listed in the scenario's `availability:` gets the error a real server returns for it; otherwise the
target's calendar answers, with the detail its calendar permissions allow the requester.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

from lab.ews.soap import NS, EwsError, child_text, el, error_message, q, success_message
from lab.ews.store import NO_FREE_BUSY_ACCESS, Caller, effective_read_items
from lab.scenario.model import CalendarEvent, Mailbox

__all__ = ["HttpFailure", "get_server_time_zones", "get_user_availability"]

# Merged free/busy digits per busy type; the strongest status in a slot wins.
_MERGED_DIGIT = {
    "Free": "0",
    "Tentative": "1",
    "Busy": "2",
    "OOF": "3",
    "WorkingElsewhere": "4",
    "NoData": "5",
}
_STRENGTH = {"0": 0, "4": 1, "1": 2, "2": 3, "3": 4, "5": -1}


class HttpFailure(Exception):
    """The whole request fails at the HTTP level (an AvailabilityError with http_status)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def get_user_availability(caller: Caller, op: ET.Element, server_name: str) -> ET.Element:
    options = op.find("t:FreeBusyViewOptions", NS)
    bias = _bias_minutes(op.find("t:TimeZone", NS))
    start = _utc(child_text(options, "t:TimeWindow/t:StartTime"), bias)
    end = _utc(child_text(options, "t:TimeWindow/t:EndTime"), bias)
    interval = int(child_text(options, "t:MergedFreeBusyIntervalInMinutes") or "30")
    requested = child_text(options, "t:RequestedView") or "DetailedMerged"
    responses = []
    for data in op.iterfind("m:MailboxDataArray/t:MailboxData", NS):
        target = child_text(data, "t:Email/t:Address") or ""
        try:
            view = _free_busy_view(caller, target, (start, end), interval, requested, bias)
            responses.append(el("m:FreeBusyResponse", success_message("m:ResponseMessage"), view))
        except EwsError as error:
            detail = el("m:MessageXml", el("e:ExceptionServerName", server_name))
            responses.append(
                el(
                    "m:FreeBusyResponse",
                    error_message("m:ResponseMessage", error, detail),
                    el("m:FreeBusyView", el("t:FreeBusyViewType", "None")),
                )
            )
    return el("m:GetUserAvailabilityResponse", el("m:FreeBusyResponseArray", responses))


def _free_busy_view(
    caller: Caller,
    target: str,
    window: tuple[datetime.datetime, datetime.datetime],
    interval: int,
    requested: str,
    bias: int,
) -> ET.Element:
    scenario = caller.scenario
    if caller.acting:
        broken = scenario.availability_error(caller.acting, target)
        if broken is not None and broken.http_status:
            raise HttpFailure(broken.http_status, broken.message)
        if broken is not None:
            raise EwsError(broken.code, broken.message)
    mailbox = scenario.mailbox(target)
    if mailbox is None:
        raise EwsError(
            "ErrorMailRecipientNotFound",
            f"Unable to resolve e-mail address {target} to an Active Directory object.",
        )
    read = effective_read_items(mailbox, caller.acting)
    if read == "None":
        raise NO_FREE_BUSY_ACCESS
    view_type = _view_type(requested, read)
    parts: list[ET.Element] = [el("t:FreeBusyViewType", view_type)]
    events = _events_in(caller, mailbox, window)
    if "Merged" in view_type:
        parts.append(el("t:MergedFreeBusy", _merged(caller, events, window, interval)))
    if view_type != "MergedOnly":
        details = view_type.startswith("Detailed")
        parts.append(el("t:CalendarEventArray", [_event_xml(caller, e, bias, details) for e in events]))
    return el("m:FreeBusyView", parts)


def _view_type(requested: str, read_items: str) -> str:
    """The view a requester gets: time-only permissions downgrade Detailed views to FreeBusy ones."""
    if read_items == "TimeOnly" and requested.startswith("Detailed"):
        return requested.replace("Detailed", "FreeBusy")
    return requested


def _events_in(
    caller: Caller, mailbox: Mailbox, window: tuple[datetime.datetime, datetime.datetime]
) -> list[CalendarEvent]:
    start, end = window
    events = [
        e
        for e in mailbox.calendar
        if caller.resolve_time(e.start) < end and caller.resolve_time(e.end) > start
    ]
    return sorted(events, key=lambda e: caller.resolve_time(e.start))


def _merged(
    caller: Caller,
    events: list[CalendarEvent],
    window: tuple[datetime.datetime, datetime.datetime],
    interval: int,
) -> str:
    start, end = window
    step = datetime.timedelta(minutes=max(interval, 1))
    digits, slot = [], start
    while slot < end:
        digit = "0"
        for event in events:
            if caller.resolve_time(event.start) < slot + step and caller.resolve_time(event.end) > slot:
                candidate = _MERGED_DIGIT[event.busy_type]
                digit = candidate if _STRENGTH[candidate] > _STRENGTH[digit] else digit
        digits.append(digit)
        slot += step
    return "".join(digits)


def _event_xml(caller: Caller, event: CalendarEvent, bias: int, details: bool) -> ET.Element:
    parts = [
        el("t:StartTime", _local(caller.resolve_time(event.start), bias)),
        el("t:EndTime", _local(caller.resolve_time(event.end), bias)),
        el("t:BusyType", event.busy_type),
    ]
    if details:
        parts.append(
            el(
                "t:CalendarEventDetails",
                el("t:Subject", event.subject),
                el("t:Location", event.location),
                el("t:IsMeeting", "false"),
                el("t:IsRecurring", "false"),
                el("t:IsException", "false"),
                el("t:IsReminderSet", "false"),
                el("t:IsPrivate", "false"),
            )
        )
    return el("t:CalendarEvent", parts)


# ------------------------------------------------------------------------------------------- time zones


def _bias_minutes(zone: ET.Element | None) -> int:
    """UTC = local + bias. Only the standard bias is applied: the lab defines the UTC zone alone."""
    if zone is None:
        return 0
    return int(child_text(zone, "t:Bias") or "0") + int(child_text(zone, "t:StandardTime/t:Bias") or "0")


def _utc(text: str | None, bias: int) -> datetime.datetime:
    if not text:
        raise EwsError("ErrorInvalidRequest", "The request is invalid.")
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = (moment + datetime.timedelta(minutes=bias)).replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _local(moment: datetime.datetime, bias: int) -> str:
    """Free/busy times come back in the request's time zone, without an offset."""
    local = moment.astimezone(datetime.UTC) - datetime.timedelta(minutes=bias)
    return local.replace(tzinfo=None).isoformat(timespec="seconds")


def get_server_time_zones(op: ET.Element) -> ET.Element:
    ids = [e.text or "" for e in op.iter(q("t:Id"))] or ["UTC"]
    tag, messages = "m:GetServerTimeZonesResponseMessage", []
    for zone_id in ids:
        if zone_id != "UTC":
            messages.append(
                error_message(tag, EwsError("ErrorTimeZone", f"The time zone '{zone_id}' is not known."))
            )
            continue
        messages.append(success_message(tag, el("m:TimeZoneDefinitions", _utc_definition())))
    return el("m:GetServerTimeZonesResponse", el("m:ResponseMessages", messages))


def _utc_definition() -> ET.Element:
    period = "trule:Microsoft/Registry/UTC/2006-Standard"
    return el(
        "t:TimeZoneDefinition",
        el("t:Periods", el("t:Period", Bias="PT0H", Name="Standard", Id=period)),
        el(
            "t:TransitionsGroups",
            el("t:TransitionsGroup", el("t:Transition", el("t:To", period, Kind="Period")), Id="0"),
        ),
        el("t:Transitions", el("t:Transition", el("t:To", "0", Kind="Group"))),
        Id="UTC",
        Name="(UTC) Coordinated Universal Time",
    )
