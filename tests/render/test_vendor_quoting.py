"""Hostile user strings on yamaha-rtx, nec-ix, cisco-iosxe: either the platform refuses them (UnsafeValue /
Unsupported, never echoing the value) or every line stays free of control characters and the string appears
only in its quoted form, which our own reading of the CLI's rules turns back into the original."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from provisioner.intent.models import Intent
from provisioner.render import RenderError, UnsafeValue, get_platform, render
from provisioner.textsafety import find_control_chars
from tests.render.scenarios import SCENARIOS
from tests.render.test_vendor_golden import _on, _with_router

PLATFORMS = ("yamaha-rtx", "nec-ix", "cisco-iosxe")
MARK = "Zq7"   # a prefix no template line contains, so finding the value means finding the user string
CREDS = {"noc-ro": SecretStr("ro-community")}


def yamaha_unquote(token: str) -> str:
    """The RTX console's rules (command reference §1.5): a "..." token ends at an unescaped quote and
    a backslash takes the next character literally; a bare token is taken as it is."""
    if not token.startswith('"'):
        assert all(c not in token for c in ' "\'\\?#|>'), token
        return token
    out, i = [], 1
    while i < len(token):
        c = token[i]
        if c == "\\":
            out.append(token[i + 1])
            i += 2
        elif c == '"':
            assert i == len(token) - 1, "text after the closing quote"
            return "".join(out)
        else:
            out.append(c)
            i += 1
    raise AssertionError("unterminated quote")


def identity_unquote(token: str) -> str:
    return token


UNQUOTE = {"yamaha-rtx": yamaha_unquote, "nec-ix": identity_unquote, "cisco-iosxe": identity_unquote}

hostile = st.text(
    alphabet=st.one_of(st.sampled_from(list(" \"'\\;#?!|$<>`{}&*")), st.characters(codec="utf-8")),
    min_size=1, max_size=20,
)


def _intent(platform: str, *, username: str, password: str, hostname: str) -> Intent:
    base = _on(platform, SCENARIOS["next-pppoe"])
    assert base.router
    pp = base.router.pppoe[0].model_copy(update={"username": username, "password": SecretStr(password)})
    mgmt = base.router.management.model_copy(update={"hostname": hostname})
    return _with_router(base, pppoe=(pp,), management=mgmt)


def _check_rendered(platform: str, text: str, value: str) -> None:
    plat = get_platform(platform)
    quoted = plat.quote(value)
    for line in text.split("\n"):
        assert not find_control_chars(line)
    assert quoted in text
    assert value not in text.replace(quoted, ""), "the user string also appears unquoted"
    # the quoted token reads back as the original value
    assert UNQUOTE[platform](quoted) == value


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=hostile, field=st.sampled_from(["username", "password", "hostname"]))
def test_hostile_strings_are_quoted_or_refused(platform: str, raw: str, field: str) -> None:
    value = MARK + raw
    kwargs = {"username": "user001@isp.example", "password": "pppoe-secret-1", "hostname": "r-caf10000001"}
    kwargs[field] = value
    try:
        rendered = render(_intent(platform, **kwargs), platform, show_secrets=True, credentials=CREDS)
    except RenderError as err:          # UnsafeValue or Unsupported: refused, and the value is not echoed
        assert value not in str(err)
        return
    _check_rendered(platform, rendered.text, value)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", "a\u2028b", "a\x85b"])
def test_control_characters_are_refused(platform: str, value: str) -> None:
    with pytest.raises(UnsafeValue):
        get_platform(platform).quote(value)


@pytest.mark.parametrize(("value", "quoted"), [
    ("user@isp.example", "user@isp.example"),
    ("pa ss", '"pa ss"'),
    ('pa"ss', '"pa\\"ss"'),
    ("pa\\ss", '"pa\\\\ss"'),
    ("a#b?c", '"a#b?c"'),
    ("a;b", '"a;b"'),
    ("pa$1", '"pa$1"'),
    ("", '""'),
])
def test_yamaha_quoting(value: str, quoted: str) -> None:
    assert get_platform("yamaha-rtx").quote(value) == quoted
    assert yamaha_unquote(quoted) == value


@pytest.mark.parametrize("value", ["pässword", "パスワード", "pa$word", "x${HOME}"])
def test_yamaha_refuses_non_ascii_and_console_variables(value: str) -> None:
    with pytest.raises(UnsafeValue) as err:
        get_platform("yamaha-rtx").quote(value)
    assert value not in str(err.value)


@pytest.mark.parametrize("platform", ["nec-ix", "cisco-iosxe"])
@pytest.mark.parametrize("value", ["pa ss", "a;b", 'a"b', "a?b", "a#b", "pässword", "a$b", "!ab"])
def test_token_platforms_refuse_what_their_cli_cannot_carry(platform: str, value: str) -> None:
    with pytest.raises(UnsafeValue):
        get_platform(platform).quote(value)


def test_too_long_pppoe_password_is_refused_on_yamaha() -> None:
    intent = _intent("yamaha-rtx", username="u@isp.example", password="x" * 65, hostname="r-1")
    with pytest.raises(UnsafeValue, match="longer than 64"):
        render(intent, "yamaha-rtx")
