"""The validators users' values pass through before they reach a backend or a command."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge.validators import ValueProblem, check_server, check_smtp, check_thumbprint, check_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@contoso.com", "alice@contoso.com"),
        (" <Bob.Smith@Contoso.COM> ", "Bob.Smith@contoso.com"),
        ("SMTP:UserB@fabrikam.com", "UserB@fabrikam.com"),
        ("usera@contoso.mail.onmicrosoft.com", "usera@contoso.mail.onmicrosoft.com"),
    ],
)
def test_good_addresses(raw: str, expected: str) -> None:
    assert check_smtp(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("alice", "is not an email address like alice@contoso.com"),
        ("alice@", "The part after @"),
        ("al ice@contoso.com", "The part before @"),
        ("alice@contoso", "The part after @"),
        ("alice@contoso.com'; Remove-Mailbox", "The part after @"),
        ("a\nb@contoso.com", "The part before @"),
        ("аlice@contoso.com", "The part before @"),  # Cyrillic a
    ],
)
def test_bad_addresses_get_a_specific_message(raw: str, message: str) -> None:
    with pytest.raises(ValueProblem, match=message):
        check_smtp(raw)


def test_servers_thumbprints_urls() -> None:
    assert check_server("EX01") == "EX01"
    assert check_server("ex01.contoso.com.") == "ex01.contoso.com"
    with pytest.raises(ValueProblem, match="not a server name"):
        check_server("EX01;whoami")
    assert (
        check_thumbprint("0a 1b2c3d4e5f60718293a4b5c6d7e8f901234567")
        == "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
    )
    with pytest.raises(ValueProblem, match="40 hexadecimal"):
        check_thumbprint("xyz")
    assert check_url("https://mail.contoso.com/owa", https_only=True) == "https://mail.contoso.com/owa"
    with pytest.raises(ValueProblem, match="not an https URL"):
        check_url("http://mail.contoso.com/owa", https_only=True)
    with pytest.raises(ValueProblem, match="not a URL"):
        check_url("https://mail.contoso.com/$(whoami)")


SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@!#%&*+/=?^{|}~")


@given(st.text(max_size=120))
def test_a_validated_address_has_no_shell_or_script_metacharacters(raw: str) -> None:
    try:
        address = check_smtp(raw)
    except ValueProblem:
        return
    assert set(address) <= SAFE | {"$", "'", "`"}
    assert not any(c.isspace() for c in address)
    assert address.isascii()


@given(st.text(max_size=120))
def test_a_problem_message_is_one_short_printable_line(raw: str) -> None:
    try:
        check_smtp(raw)
    except ValueProblem as problem:
        message = str(problem)
        assert message.isprintable()
        assert len(message) < 200


@given(st.text(max_size=80))
def test_a_validated_server_name_is_plain(raw: str) -> None:
    try:
        name = check_server(raw)
    except ValueProblem:
        return
    assert all(c.isalnum() or c in ".-" for c in name) and name.isascii()


def test_one_pair_of_angle_brackets_is_accepted_and_a_lone_bracket_is_refused_by_name() -> None:
    from knowledge.validators import ValueProblem, check_smtp

    assert check_smtp("<carol@contoso.com>") == "carol@contoso.com"
    assert check_smtp(" SMTP:<carol@Contoso.com> ") == "carol@contoso.com"
    for cut in ("<0@0.AA", "<carol@contoso.com", "carol@contoso.com>", "<<carol@contoso.com>"):
        with pytest.raises(ValueProblem) as problem:
            check_smtp(cut)
        assert "angle bracket" in str(problem.value) or "cannot have" in str(problem.value), cut
