"""Traffic Light Protocol 2.0 labels, their order, and parsing from every form feeds use."""

from __future__ import annotations

import enum


class TLP(enum.IntEnum):
    """TLP 2.0 labels ordered from least to most restricted."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def value_str(self) -> str:
        """Lower-case wire form used in JSON Lines and the database (`amber+strict`)."""
        return _TO_STR[self]

    @property
    def label(self) -> str:
        """FIRST's display form, e.g. `TLP:AMBER+STRICT`."""
        return "TLP:" + _TO_STR[self].upper()

    def __str__(self) -> str:
        return self.value_str


_TO_STR = {
    TLP.CLEAR: "clear",
    TLP.GREEN: "green",
    TLP.AMBER: "amber",
    TLP.AMBER_STRICT: "amber+strict",
    TLP.RED: "red",
}

_ALIASES = {
    "clear": TLP.CLEAR,
    "white": TLP.CLEAR,
    "green": TLP.GREEN,
    "amber": TLP.AMBER,
    "amber+strict": TLP.AMBER_STRICT,
    "amber_strict": TLP.AMBER_STRICT,
    "amber-strict": TLP.AMBER_STRICT,
    "red": TLP.RED,
}

# STIX marking-definition ids: TLP 1.0 (STIX 2.x common) and TLP 2.0 (extension, STIX 2.1).
STIX_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # TLP 1.0 WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLP.CLEAR,  # TLP 2.0 CLEAR
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLP.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLP.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLP.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLP.RED,
}


def parse_tlp(text: str | TLP | None, default: TLP | None = None) -> TLP:
    """Parse `TLP:AMBER+STRICT`, `amber`, `WHITE`, `tlp:clear` … into a TLP; raise ValueError if unknown."""
    if isinstance(text, TLP):
        return text
    if text is None or not str(text).strip():
        if default is not None:
            return default
        raise ValueError("missing TLP label")
    norm = str(text).strip().lower().replace(" ", "")
    if norm.startswith("tlp:"):
        norm = norm[4:]
    elif norm.startswith("tlp"):
        norm = norm[3:].lstrip(":-_")
    try:
        return _ALIASES[norm]
    except KeyError:
        if default is not None:
            return default
        raise ValueError(f"unknown TLP label {text!r}") from None


def max_tlp(labels: list[TLP]) -> TLP:
    """The most restrictive of several labels (CLEAR for none)."""
    return max(labels, default=TLP.CLEAR)
