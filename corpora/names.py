"""The one rule for names a user gives to personas and image sets.

Such names become folder names (`images/<set>`, model and checkpoint folders), so a name is a
safe slug: 1-64 ASCII letters, digits, '_', '-' or '.', not starting with '.' or '-'. That keeps
out path separators, `.` and `..`, hidden folders and names read as command-line options.
"""

from __future__ import annotations

import re
from typing import Literal

from corpora.errors import CorpusError

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
NAME_RULE = "1-64 letters (a-z, A-Z), digits, '_', '-' or '.', not starting with '.' or '-'"
SHOWN = 70  # longest name quoted whole in an error message

NameKind = Literal["persona", "image set"]


def check_name(kind: NameKind, name: str) -> str:
    """`name` if it follows the rule, else a one-line `CorpusError` naming the rule."""
    if not NAME.fullmatch(name):
        shown = name if len(name) <= SHOWN else f"{name[:SHOWN]}..."
        raise CorpusError(f"bad {kind} name {shown!r}: use {NAME_RULE}")
    return name
