"""Plain data passed between fetching and parsing in the collection pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Document:
    """One fetched document of a source (most sources have one per run; TAXII/CSAF/MISP several)."""

    content: bytes
    filename: str = ""
    url: str | None = None
    content_type: str | None = None


@dataclass
class Fetched:
    """What fetching produced: documents, or 'not modified', plus new cursor values."""

    documents: list[Document] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
