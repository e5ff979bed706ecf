"""The adapter contract: bytes in, normalised items out. Adapters are pure (no I/O, no database)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certmon.items.schemas import Item
from certmon.tlp import TLP


@dataclass(frozen=True)
class ParseContext:
    """What an adapter may know about where the bytes came from."""

    default_tlp: TLP = TLP.CLEAR
    source_name: str = ""
    filename: str = ""  # for error messages and format hints (e.g. shadowserver report type)
    report_type: str | None = None  # shadowserver: which column mapping to use; None = guess


ParseFunc = Callable[[bytes, ParseContext], Iterable[Item]]
