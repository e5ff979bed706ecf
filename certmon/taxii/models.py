"""The TAXII server's index on the items table (migration 0014).

Kept with the TAXII package that needs it rather than in certmon/items/models.py: the items table
has few indexes on purpose (each costs every inserted row), and this one serves only the TAXII
collections' keyset paging over (date_added = updated_at, id) within one TLP level. Partial, so
advisories, vulnerabilities and exposures pay nothing for it. certmon/models.py imports this module,
so the metadata (and the schema test comparing it with the migrations) includes it.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from certmon.items.models import StoredItem

INDICATORS_ONLY = text("kind = 'indicator'")
ix_items_indicator_added = Index(
    "ix_items_indicator_added", StoredItem.tlp_rank, StoredItem.updated_at, StoredItem.id,
    postgresql_where=INDICATORS_ONLY, sqlite_where=INDICATORS_ONLY)
