r"""Showing strangers' strings on a terminal: paths, node names, op types and reasons from model files.

Two dangers: rich reads ``[...]`` as markup (``[/x]`` raises MarkupError, ``[bold red]`` restyles the
line, ``[link=...]`` makes a hyperlink), and control characters reach the terminal raw (ANSI and OSC
escapes clear the screen or set the window title; a newline forges a line such as "LEGAL for ...").
``printable`` writes control and bidirectional-override characters as Python escapes (``\x1b``,
``\n``, ``\u202e``); ``escape`` also escapes rich markup. JSON output keeps strings as they are
(``json.dumps`` escapes control characters itself).
"""

from __future__ import annotations

import re

__all__ = ["escape", "printable"]

#: C0 and C1 controls, DEL, and the Unicode marks that reorder or hide text on screen.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with every control or bidirectional-override character written as an escape."""
    return _UNSAFE.sub(_escaped, str(text))


def escape(text: object) -> str:
    r"""``text`` safe to embed in a rich markup string: controls escaped, ``[`` and ``\`` taken literally.

    Rich reads a run of backslashes before a tag-like ``[x...]`` as escapes (pairs are one backslash,
    an odd one escapes the tag), and drops one backslash before any other ``[``. So: before a
    tag-like bracket the run is doubled and one added (the tag shows literally, after every
    backslash); before another bracket one is added; a run at the very end is doubled and closed
    by an empty style, so the markup that follows (a closing tag of the report's own) is not escaped.
    """
    shown = printable(text)
    escaped = _BRACKET.sub(_escape_bracket, shown)
    tail = len(escaped) - len(escaped.rstrip("\\"))
    if tail:
        escaped = escaped[: len(escaped) - tail] + "\\" * (2 * tail) + "[dim][/dim]"
    return escaped


#: A run of backslashes (maybe empty) and the bracket after it, and whether a tag-like text follows.
_BRACKET = re.compile(r"(\\*)\[(?=([a-z#/@][^\[]*?\])?)")


def _escape_bracket(match: re.Match[str]) -> str:
    backslashes, tag = match.group(1), match.group(2)
    if tag is not None:
        return backslashes * 2 + "\\["
    return backslashes + ("\\" if backslashes else "") + "["
