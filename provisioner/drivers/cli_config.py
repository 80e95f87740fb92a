"""Configurations of CLI platforms (Yamaha RTX, NEC IX, Cisco IOS-XE) as ordered entries, and the command
plans a driver sends: the lines a push must add, and the lines that converge a CPE back to a backup.

An entry is the path of context lines leading to a line plus the line itself:
    ("interface GigaEthernet0.1", "ip address ipcp")   NEC IX / Cisco (indentation = context)
    ("pp select 1", "pp auth myname user pass")        Yamaha (`X select N` opens a context)
Comments and volatile lines (timestamps, byte counts) are dropped, so two reads of an unchanged CPE are
equal, and a config text renders back from its entries in one canonical form.

A push is a merge: it sends the intended entries the CPE lacks (a command with the same key overwrites the
old value on these CLIs) and reports the running entries the intent does not name as "unmanaged" without
removing them. A restore converges: negate what the backup lacks (deepest first), then re-send what the
backup has and the CPE lost; the driver then re-reads and compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

Entry = tuple[str, ...]


@dataclass(frozen=True)
class CliSyntax:
    comment_prefixes: tuple[str, ...]
    volatile: tuple[str, ...] = ()  # regexes of lines that change by themselves (dates, sizes, counters)
    indent: str = " "  # one level of indentation in the canonical text

    def skip(self, line: str) -> bool:
        s = line.strip()
        return (
            not s
            or s.startswith(self.comment_prefixes)
            or any(re.search(rx, s) for rx in self.volatile)
        )

    # --- parsing -------------------------------------------------------------------------------------
    def entries(self, text: str) -> list[Entry]:
        """Ordered, de-duplicated entries of a config text; indentation gives the context."""
        stack: list[tuple[int, str]] = []
        out: list[Entry] = []
        seen: set[Entry] = set()
        for raw in text.replace("\r", "").splitlines():
            if self.skip(raw):
                continue
            line = raw.rstrip()
            indent = len(line) - len(line.lstrip(" \t"))
            stack = self._context(stack, indent, line.strip())
            entry = (*(t for _, t in stack), line.strip())
            if entry not in seen:
                seen.add(entry)
                out.append(entry)
            stack.append((indent, line.strip()))
        return out

    def _context(self, stack: list[tuple[int, str]], indent: int, line: str) -> list[tuple[int, str]]:
        while stack and stack[-1][0] >= indent:
            stack = stack[:-1]
        return stack

    def text(self, entries: Iterable[Entry]) -> str:
        """The canonical text of entries (what a normalised snapshot holds)."""
        return "".join(f"{self.indent * (len(e) - 1)}{e[-1]}\n" for e in entries)

    def normalise(self, text: str) -> str:
        return self.text(self.entries(text))

    # --- command plans -------------------------------------------------------------------------------
    def leave(self, context: Entry) -> list[str]:
        """Commands that leave `context` (one level) back to its parent."""
        return ["exit"]

    def negate(self, line: str) -> str | None:
        """The command that undoes `line`; None when the line cannot be undone by itself."""
        return line[3:] if line.startswith("no ") else f"no {line}"

    def block_removes_children(self, header: str) -> bool:
        """Whether negating a context line removes its whole block (e.g. `no interface Tunnel0.0`)."""
        return True

    def _walk(self, steps: Iterable[tuple[Entry, str]], headers: set[Entry]) -> list[str]:
        """Commands for (entry, command) steps, entering and leaving contexts as the entries require."""
        out: list[str] = []
        ctx: Entry = ()
        for entry, command in steps:
            parent = entry[:-1]
            common = 0
            while common < min(len(ctx), len(parent)) and ctx[common] == parent[common]:
                common += 1
            while len(ctx) > common:
                out += self.leave(ctx)
                ctx = ctx[:-1]
            for depth in range(len(ctx), len(parent)):
                out.append(parent[depth])
                ctx = parent[: depth + 1]
            out.append(command)
            if entry in headers and command == entry[-1]:
                ctx = entry  # sending a context line enters it
        while ctx:
            out += self.leave(ctx)
            ctx = ctx[:-1]
        return out

    def push_plan(self, intended: list[Entry], running: Iterable[Entry]) -> list[str]:
        have = set(running)
        headers = {e[:i] for e in intended for i in range(1, len(e))}
        steps = [(e, e[-1]) for e in intended if e not in have]
        return self._walk(steps, headers)

    def missing(self, intended: list[Entry], running: Iterable[Entry]) -> list[Entry]:
        have = set(running)
        return [e for e in intended if e not in have]

    def unmanaged(self, intended: Iterable[Entry], running: list[Entry]) -> list[Entry]:
        want = set(intended)
        headers = {e[:i] for e in want for i in range(1, len(e))}
        return [e for e in running if e not in want and e not in headers]

    def revert_plan(self, current: list[Entry], backup: list[Entry]) -> list[str]:
        """Commands that turn `current` back into `backup`."""
        keep = set(backup)
        extra = [e for e in current if e not in keep]
        removed_blocks: list[Entry] = []
        undo: list[tuple[Entry, str]] = []
        for entry in sorted(extra, key=len):  # shallow first, so a removed block hides its children
            if any(entry[: len(b)] == b for b in removed_blocks):
                continue
            is_header = any(len(c) > len(entry) and c[: len(entry)] == entry for c in current)
            command = self.negate(entry[-1])
            if command is None:
                continue
            if is_header and self.block_removes_children(entry[-1]):
                removed_blocks.append(entry)
            elif is_header:
                continue  # the context stays; its extra children are negated one by one
            undo.append((entry, command))
        order = {e: i for i, e in enumerate(current)}
        undo.sort(key=lambda step: (-len(step[0]), -order[step[0]]))
        headers = {e[:i] for e in (*current, *backup) for i in range(1, len(e))}
        have_after = set(current) - {e for e, _ in undo}
        have_after -= {e for e in current if any(e[: len(b)] == b for b in removed_blocks)}
        redo = [(e, e[-1]) for e in backup if e not in have_after]
        return self._walk(undo, set()) + self._walk(redo, headers)


class YamahaSyntax(CliSyntax):
    """Yamaha RTX: `pp select N` / `tunnel select N` open a context that `... select none` closes.
    `show config` indents the context's lines by one space; a rendered config may not, so unindented lines
    that belong to the selected interface (pp/ppp/pppoe/ip pp ... or tunnel/ip tunnel ...) stay in it."""

    _SELECT = re.compile(r"^(pp|tunnel) select (\S+)$")
    _SCOPED: ClassVar[dict[str, re.Pattern[str]]] = {
        "pp": re.compile(r"^(pp |ppp |pppoe |ip pp |ipv6 pp |description pp |pp enable )"),
        "tunnel": re.compile(r"^(tunnel (?!select)|ip tunnel |ipv6 tunnel |description tunnel )"),
    }

    def __init__(self) -> None:
        super().__init__(
            comment_prefixes=("#",),
            volatile=(r"^# Reporting Date:", r"^# (MAC Address|Memory|main:|Reporting)"),
            indent=" ",
        )

    def _context(self, stack: list[tuple[int, str]], indent: int, line: str) -> list[tuple[int, str]]:
        opened = self._SELECT.match(stack[0][1]) if stack else None
        if opened is None or opened.group(2) == "none" or self._SELECT.match(line):
            return []
        if indent > stack[0][0] or self._SCOPED[opened.group(1)].match(line):
            return stack[:1]
        return []

    # Sequencing, not configuration: leaving a context, and the renderer's `pp disable 1` before it
    # rewrites a PP (show config never lists a disable; the block's own `pp enable 1` comes last).
    _SEQUENCING = re.compile(r"^((pp|tunnel) select none|(pp|tunnel) disable \S+)$")

    def entries(self, text: str) -> list[Entry]:
        return [e for e in super().entries(text) if not (len(e) == 1 and self._SEQUENCING.match(e[0]))]

    def leave(self, context: Entry) -> list[str]:
        m = self._SELECT.match(context[0])
        return [f"{m.group(1)} select none"] if m else []

    def negate(self, line: str) -> str | None:
        if self._SELECT.match(line):
            return None  # selecting is not configuration; the block's lines are undone one by one
        m = re.match(r"^(pp|tunnel) enable (\S+)$", line)
        if m:
            return f"{m.group(1)} disable {m.group(2)}"
        return super().negate(line)

    def block_removes_children(self, header: str) -> bool:
        return False


NEC_SYNTAX = CliSyntax(
    comment_prefixes=("!",),
    # `exit` ends a block in a rendered config; the device does not show it.
    volatile=(r"^Current time", r"^Last (modified|saved)", r"^exit$"),
    indent="  ",
)

CISCO_SYNTAX = CliSyntax(
    comment_prefixes=("!",),
    volatile=(
        r"^Building configuration",
        r"^Current configuration\s*:",
        r"^ntp clock-period",
        r"^end$",
        r"^exit$",
    ),
    indent=" ",
)
