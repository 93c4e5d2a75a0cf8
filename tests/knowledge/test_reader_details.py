"""The reader on details admins paste in many spellings: LIDs, header lines."""

from __future__ import annotations

import pytest

from tests.knowledge.reader_support import read


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
