"""Text that came from a job, made safe to show in a terminal.

A job's failure message, its log lines and the reasons made of them are the job's own text:
escape sequences in it would retitle the window (``ESC ] 0 ; title BEL``), erase lines
(``ESC [ 2K``), move the cursor or ask the terminal to answer. :func:`plain` drops every
ECMA-48 control sequence (CSI, OSC, DCS, SOS, PM, APC and the two-byte escapes, in their
7-bit and 8-bit forms), every other control character but tab and newline, and the Unicode
controls that reorder what is shown (bidirectional overrides and isolates).
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]?                  # CSI ... final byte
    | \x1b\] [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?   # OSC ... BEL or ST
    | \x1b[PX^_] [^\x1b\x9c]* (?:\x1b\\|\x9c)?       # DCS, SOS, PM, APC ... ST
    | \x1b [ -/]* [0-~]?                           # other escapes (nF, Fp, Fe, Fs)
    | \x9b [0-?]* [ -/]* [@-~]?                    # 8-bit CSI
    | \x9d [^\x07\x9c]* [\x07\x9c]?                # 8-bit OSC
    | [\x90\x98\x9e\x9f] [^\x9c]* \x9c?            # 8-bit DCS, SOS, PM, APC
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def plain(text: str) -> str:
    """``text`` without terminal control sequences or control characters (tab and newline
    stay)."""
    if text.isprintable():
        return text  # the common case: nothing to strip
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))


def plain_or_none(text: str | None) -> str | None:
    """:func:`plain` of a text that may be missing."""
    return None if text is None else plain(text)
