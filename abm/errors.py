"""Input errors that the command line reports in one line, naming the file and the field; and one-line
warnings about input that is valid but probably not what was meant."""
from __future__ import annotations

import difflib
import sys


class InputError(Exception):
    """Bad input: a malformed scenario or pack, an unknown name, a date out of range, an impossible value."""

    def __init__(self, file, field: str, message: str):
        self.file = str(file)
        self.field = field
        self.message = message
        super().__init__(f"{self.file}: {field}: {message}")


def suggest(key, known) -> str:
    """' (did you mean a or b?)' for the known keys nearest to `key`, or '' if none is near."""
    near = difflib.get_close_matches(str(key), [str(k) for k in known], n=3)
    return f" (did you mean {' or '.join(near)}?)" if near else ""


def unknown(what: str, key, known) -> str:
    """The message for an unknown key or name: the nearest known ones, else the whole list."""
    near = suggest(key, known)
    return f"unknown {what} {key!r}" + (near or f" (known: {', '.join(map(str, known)) or 'none'})")


def reject_unknown(file, prefix: str, table: dict, known, what: str = "field"):
    """An InputError naming the first key of `table` that is not in `known` (`prefix` + key is the field)."""
    for k in table:
        if k not in known:
            raise InputError(file, f"{prefix}{k}", f"unknown {what} {k!r}{suggest(k, known)} (known: {', '.join(known)})")


_warned: set[str] = set()


def warn(file, field: str, message: str):
    """Print `warning: FILE: FIELD: MESSAGE` on stderr, once per process for each distinct line (experiments
    and calibration build the same scenario many times; the user needs to hear it once)."""
    line = f"warning: {file}: {field}: {message}"
    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr)
