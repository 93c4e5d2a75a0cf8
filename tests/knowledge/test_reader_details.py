"""The reader on details admins paste in many spellings: LIDs."""

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
