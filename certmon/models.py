"""Import every ORM model so metadata is complete (Alembic, create_all, tests)."""

from certmon.audit.models import AuditEntry
from certmon.auth.models import ApiToken, User
from certmon.incidents import models as _incident_models  # noqa: F401  (registers the incident tables)
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification, NotificationMatch
from certmon.portal.models import Proposal
from certmon.registry.models import AppState, Asset, Constituent, ConstituentRole, Contact
from certmon.reports.models import Report
from certmon.sources.models import Payload, Source, SourceRun
from certmon.taxii import models as _taxii_models  # noqa: F401  (the TAXII paging index on items)

__all__ = [
    "ApiToken", "AppState", "Asset", "AuditEntry", "Constituent", "ConstituentRole", "Contact",
    "Delivery", "Match", "Notification", "NotificationMatch", "Payload", "Proposal", "Report", "Source", "SourceRun",
    "StoredItem", "User",
]
