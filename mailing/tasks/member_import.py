"""Actor of the console's CSV import of members (large files)."""

from __future__ import annotations

import dramatiq

from mailing.services import member_import
from tenants.jobs import tenant_context

# 100,000 rows (the file limit) take well under a minute; a failed import is marked FAILED and the
# person uploads again, so no automatic retry (a retry of a finished import would do nothing anyway).
IMPORT_TIME_LIMIT_MS = 10 * 60 * 1000


@dramatiq.actor(queue_name="console", max_retries=0, time_limit=IMPORT_TIME_LIMIT_MS)
def member_import_run(schema_name: str, import_id: int) -> None:
    with tenant_context(schema_name):
        member_import.member_import_run(import_id=import_id)
