"""A simulated router's running configuration: settings keyed by what they configure, grouped in sections.

Section None holds global settings; other sections are a vendor's blocks (Yamaha `pp select 1`, NEC
`interface GigaEthernet0.1`). Re-entering a setting replaces it in place (a router keeps one value per setting);
`no <setting>` removes it. Order within a section is the order of first entry.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable

Section = Hashable | None
Key = tuple[str, ...]


class ConfigStore:
    def __init__(self) -> None:
        self._sections: dict[Section, dict[Key, str]] = {None: {}}

    def set(self, section: Section, key: Key, line: str) -> None:
        self._sections.setdefault(section, {})[key] = line

    def remove(self, section: Section, key: Key) -> bool:
        """Remove the setting `key`, or every setting whose key starts with it (`no ip filter 10` vs
        `no ip lan1 secure filter`). Returns whether anything was removed."""
        settings = self._sections.get(section, {})
        doomed = [k for k in settings if k[: len(key)] == key]
        for k in doomed:
            del settings[k]
        return bool(doomed)

    def get(self, section: Section, key: Key) -> str | None:
        return self._sections.get(section, {}).get(key)

    def find(self, section: Section, prefix: Key) -> list[tuple[Key, str]]:
        return [(k, v) for k, v in self._sections.get(section, {}).items() if k[: len(prefix)] == prefix]

    def lines(self, section: Section = None) -> list[str]:
        return list(self._sections.get(section, {}).values())

    def sections(self) -> list[Section]:
        return [s for s in self._sections if s is not None]

    def open_section(self, section: Section) -> None:
        self._sections.setdefault(section, {})

    def drop_section(self, section: Section) -> None:
        self._sections.pop(section, None)

    def snapshot(self) -> ConfigStore:
        return copy.deepcopy(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigStore):
            return NotImplemented
        mine = {k: v for k, v in self._sections.items() if v or k is None}
        theirs = {k: v for k, v in other._sections.items() if v or k is None}
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]
