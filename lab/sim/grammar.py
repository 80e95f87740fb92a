"""Command matching shared by the CLI simulators: a table of command specs, each a fixed head and an argument
pattern, and the three ways a line can fail (unknown command, wrong argument count, bad argument).

The simulators map those failures to their vendor's error text; they never accept a line that no spec in their
table describes, so a template typo fails the push the way the real router would.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum


class Failure(Enum):
    UNKNOWN = "unknown command"
    ARG_COUNT = "wrong number of arguments"
    BAD_ARG = "bad argument"


class GrammarError(Exception):
    def __init__(self, failure: Failure, token: str = "") -> None:
        super().__init__(f"{failure.value}: {token}")
        self.failure = failure
        self.token = token


@dataclass(frozen=True)
class Spec:
    """One command form.

    head: regexes matched token by token (e.g. ("ip", IFACE, "address")); args: regex over the remaining
    tokens joined by one space (None: no arguments); nargs: allowed count of remaining tokens (max None =
    unbounded). `cite` names the vendor reference section the form comes from. `key_args` is how many
    leading arguments identify the setting (so re-entering `ip filter 10 ...` replaces filter 10).
    `tag` lets a simulator attach behaviour (mode changes, operations) to a form.
    """

    head: tuple[str, ...]
    args: str | None
    nargs: tuple[int, int | None]
    cite: str
    tag: str = "set"
    key_args: int = 0
    modes: frozenset[str] = field(default_factory=frozenset)  # empty: any mode the caller allows

    def head_matches(self, tokens: list[str]) -> bool:
        return len(tokens) >= len(self.head) and all(
            re.fullmatch(pat, tok) for pat, tok in zip(self.head, tokens, strict=False)
        )


def spec(form: str, args: str | None = None, nargs: tuple[int, int | None] | int = 0, cite: str = "",
         **kw) -> Spec:
    """`form` is the literal head ("pp auth myname"), with `{name}` placeholders for variable head tokens
    taken from PLACEHOLDERS."""
    head = tuple(PLACEHOLDERS.get(tok.strip("{}"), re.escape(tok)) if tok.startswith("{") else re.escape(tok)
                 for tok in form.split())
    counts = (nargs, nargs) if isinstance(nargs, int) else nargs
    return Spec(head, args, counts, cite, **kw)


# Token patterns for variable head tokens and arguments.
NUM = r"\d+"
WORD = r"[^\s]+"
IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
IPV4_PREFIX = IPV4 + r"/\d{1,2}"
IPV6 = r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"
ON_OFF = r"(?:on|off)"
PLACEHOLDERS = {
    "lan": r"lan\d+",                       # Yamaha LAN interface names
    "ifname": r"(?:GigaEthernet|Tunnel|Loopback|BVI)\d+(?:\.\d+)?",  # NEC IX interface names
    "num": NUM,
    "word": WORD,
}


@dataclass(frozen=True)
class Match:
    spec: Spec
    tokens: list[str]
    negated: bool

    @property
    def head(self) -> list[str]:
        return self.tokens[: len(self.spec.head)]

    @property
    def args(self) -> list[str]:
        return self.tokens[len(self.spec.head):]

    @property
    def key(self) -> tuple[str, ...]:
        """The identity of the setting this line configures."""
        return (*self.head, *self.args[: self.spec.key_args])


def tokenize(line: str) -> list[str]:
    """Split a command line on blanks; double quotes group a token (both vendors quote this way)."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:  # an unbalanced quote
        raise GrammarError(Failure.BAD_ARG, line) from exc


class Grammar:
    """Finds the spec a command line belongs to (the longest matching head wins)."""

    def __init__(self, specs: Iterable[Spec], negation: str | None = "no") -> None:
        self.specs = tuple(specs)
        self.negation = negation

    def match(self, tokens: list[str], allowed: Callable[[Spec], bool] = lambda s: True) -> Match:
        negated = bool(self.negation) and len(tokens) > 1 and tokens[0] == self.negation
        body = tokens[1:] if negated else tokens
        usable = [s for s in self.specs if allowed(s)]
        candidates = [s for s in usable if s.head_matches(body)]
        if not candidates:
            raise GrammarError(Failure.UNKNOWN, _unknown_word(usable, body))
        best = max(len(s.head) for s in candidates)
        candidates = [s for s in candidates if len(s.head) == best]
        rest = body[best:]
        if negated:
            # `no <command>` takes the head alone or the head with the arguments it is removing.
            return Match(candidates[0], body, True)
        counted = [s for s in candidates if s.nargs[0] <= len(rest) and (s.nargs[1] is None or len(rest) <= s.nargs[1])]
        if not counted:
            # Too few arguments: no token to blame; too many: the first one past the longest form.
            most = max(s.nargs[1] or 0 for s in candidates)
            raise GrammarError(Failure.ARG_COUNT, rest[most] if len(rest) > most else "")
        for s in counted:
            if _args_match(s, rest):
                return Match(s, body, False)
        raise GrammarError(Failure.BAD_ARG, rest[0] if rest else body[-1])


def _args_match(s: Spec, rest: list[str]) -> bool:
    if not rest:
        return s.nargs[0] == 0
    if s.args is None:
        return False
    return re.fullmatch(s.args, " ".join(rest)) is not None


def _unknown_word(specs: list[Spec], body: list[str]) -> str:
    """The first word no command continues with (`show running-config` in the wrong mode blames
    `running-config`), as the vendors' diagnostics point at it."""
    depth = 0
    for s in specs:
        n = 0
        while n < min(len(s.head), len(body)) and re.fullmatch(s.head[n], body[n]):
            n += 1
        depth = max(depth, n)
    return body[depth] if depth < len(body) else (body[-1] if body else "")
