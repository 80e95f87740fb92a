"""Independent readers of the syntaxes the renderers write, re-implemented from the daemons' own parsers
(libuci parse_str, pppd getword, hostapd config_file.c + printf_decode). Tests use them to prove that a
quoted user string reads back as exactly the original and cannot split or extend a line."""

from __future__ import annotations

import json
import re


class ParseError(ValueError):
    pass


def uci_words(line: str) -> list[str]:
    """libuci's parse_str over a batch line: '...' literal, "..." and bare text with \\ escapes,
    an unquoted # ends the line, whitespace separates words."""
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n or line[i] == "#":
            return words
        word = []
        while i < n and not line[i].isspace():
            c = line[i]
            if c == "'":
                end = line.find("'", i + 1)
                if end < 0:
                    raise ParseError("unterminated '")
                word.append(line[i + 1:end])
                i = end + 1
            elif c == '"':
                i += 1
                while True:
                    if i >= n:
                        raise ParseError('unterminated "')
                    if line[i] == '"':
                        i += 1
                        break
                    if line[i] == "\\" and i + 1 < n:
                        i += 1
                    word.append(line[i])
                    i += 1
            elif c == "#":
                words.append("".join(word))
                return words
            elif c == "\\" and i + 1 < n:
                word.append(line[i + 1])
                i += 2
            else:
                word.append(c)
                i += 1
        words.append("".join(word))


_PPP_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "s": " ", "t": "\t"}


def pppd_words(text: str) -> list[list[str]]:
    """pppd's getword() over a whole options/secrets file, grouped by line (a word never spans lines
    here). Returns the words of each line."""
    lines: list[list[str]] = []
    for raw in text.split("\n"):
        words, i, n = [], 0, len(raw)
        while True:
            while i < n and raw[i].isspace():
                i += 1
            if i >= n or raw[i] == "#":
                break
            quote = raw[i] if raw[i] in "\"'" else None
            if quote:
                i += 1
            word = []
            while True:
                if i >= n:
                    if quote:
                        raise ParseError("unterminated quote")
                    break
                c = raw[i]
                if c == "\\":
                    if i + 1 >= n:
                        raise ParseError("escape at end of line")
                    e = raw[i + 1]
                    if e in _PPP_ESC:
                        word.append(_PPP_ESC[e])
                        i += 2
                    elif e in "01234567":
                        m = re.match(r"[0-7]{1,3}", raw[i + 1:])
                        word.append(chr(int(m.group(), 8)))
                        i += 1 + len(m.group())
                    elif e == "x":
                        m = re.match(r"[0-9a-fA-F]{0,2}", raw[i + 2:])
                        word.append(chr(int(m.group() or "0", 16)))
                        i += 2 + len(m.group())
                    else:
                        word.append(e)
                        i += 2
                    continue
                if quote and c == quote:
                    i += 1
                    break
                if not quote and (c.isspace() or c == "#"):
                    break
                word.append(c)
                i += 1
            words.append("".join(word))
        if words:
            lines.append(words)
    return lines


def hostapd_pairs(text: str) -> list[tuple[str, str]]:
    """hostapd_config_read: skip lines starting with #, blank lines; name=value split at the first '='."""
    pairs = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ParseError(f"invalid line {line!r}")
        name, value = line.split("=", 1)
        pairs.append((name, value))
    return pairs


def hostapd_string(value: str) -> str:
    """wpa_config_parse_string for ssid2: "..." literal or P"..." with printf_decode escapes."""
    if value.startswith('P"') and value.endswith('"') and len(value) >= 3:
        body, out, i = value[2:-1], [], 0
        while i < len(body):
            c = body[i]
            if c == "\\":
                e = body[i + 1]
                simple = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "e": "\x1b"}
                if e in simple:
                    out.append(simple[e])
                    i += 2
                    continue
                raise ParseError(f"escape \\{e} not produced by the renderer")
            if c == '"':
                raise ParseError("unescaped quote inside P\"\"")
            out.append(c)
            i += 1
        return "".join(out)
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    raise ParseError("not a hostapd string")


TR181_LINE = re.compile(r"^Device\.[A-Za-z0-9_.]+ = (.*)$")


def tr181_value(line: str):
    m = TR181_LINE.match(line)
    if not m:
        raise ParseError(f"not a parameter line: {line!r}")
    return json.loads(m.group(1))
