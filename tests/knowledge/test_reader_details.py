"""The reader on details admins paste in many spellings: LIDs, header lines."""

from __future__ import annotations

import pytest

from tests.knowledge.reader_support import paste, read


@pytest.mark.parametrize(
    ("text", "lids"),
    [
        ("ErrorProxyRequestProcessingFailed, Lid=43532", [43532]),
        ("The call failed. Lid: 55743", [55743]),
        ("lids: 47652, 44348", [47652, 44348]),
        ("LID: 40764", [40764]),
    ],
)
def test_lids_are_read_in_any_case(text: str, lids: list[int]) -> None:
    assert read(text)["error.lids"] == lids


def test_a_word_ending_in_lid_is_not_a_lid() -> None:
    assert "error.lids" not in read("The token is invalid: 4000 seconds; solid=123")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "X-InnerException: System.Net.WebException: The remote server returned an error: (401) Unauthorized.",
            "The remote server returned an error: (401) Unauthorized",
        ),
        (
            "HTTP/1.1 500\nX-MS-InnerException: System.Net.WebException: The remote server returned an error.",
            "The remote server returned an error",
        ),
    ],
)
def test_a_header_name_is_not_an_exception_type(text: str, message: str) -> None:
    facts = read(text)
    assert facts["exception.types"] == ["WebException"]
    assert facts["exception.messages"] == [message]


def test_an_inner_exception_arrow_still_chains_types() -> None:
    facts = read("System.Net.WebException: failed --->System.IO.IOException: closed")
    assert facts["exception.types"] == ["WebException", "IOException"]


@pytest.mark.parametrize(
    ("name", "when"),
    [
        ("event-4002-rendered.txt", "2026-11-20T09:14:02"),
        ("event-ecp-28.txt", "2026-11-20T10:02:44"),
        ("get-winevent-owa-71.txt", "2026-11-20T09:14:02"),
        ("event-4002.xml", "2026-11-20T09:14:02Z"),
    ],
)
def test_event_time_from_each_entry_format(name: str, when: str) -> None:
    assert read(paste(name))["event.time"] == when


@pytest.mark.parametrize(
    ("line", "when"),
    [
        ("Date:          11/20/2026 9:14:02 PM", "2026-11-20T21:14:02"),
        ("Date:          20.11.2026 09:14:02", "2026-11-20T09:14:02"),
        ("Date:          2026-11-20 09:14:02", "2026-11-20T09:14:02"),
        ("Date:          2026-11-20T09:14:02.1234567+01:00", "2026-11-20T09:14:02+01:00"),
        ("TimeCreated  : 20.11.2026 09:14:02", "2026-11-20T09:14:02"),
        ("Logged:        11/20/2026 12:05:00 AM", "2026-11-20T00:05:00"),
        ("<TimeCreated SystemTime='2026-11-20T09:14:02.123456700Z'/>", "2026-11-20T09:14:02Z"),
    ],
)
def test_event_time_in_each_date_form(line: str, when: str) -> None:
    facts = read(
        f"Log Name:      Application\nSource:        MSExchange Availability\n{line}\nEvent ID:      4002\n"
    )
    assert facts["event.time"] == when


def test_only_the_first_events_time_is_read() -> None:
    first = "Source: MSExchange OWA\nDate:          11/20/2026 9:14:02 AM\nEvent ID: 42\n"
    second = "Source: MSExchange OWA\nDate:          11/21/2026 8:00:00 AM\nEvent ID: 42\n"
    assert read(first + "\n" + second)["event.time"] == "2026-11-20T09:14:02"


def test_a_date_that_is_not_an_events_time_is_not_read() -> None:
    header = "HTTP/1.1 401 Unauthorized\nDate: Fri, 20 Nov 2026 09:14:02 GMT\nX-FEServer: EX01\n"
    assert "event.time" not in read(header)
    assert "event.time" not in read("Date:          13/45/2026 9:14:02 AM\nEvent ID: 4002")
    assert "event.time" not in read("The update date: 11/20/2026 9:14:02 AM was in prose")
