"""A large CSV import runs as a dramatiq job on the real worker and reports its progress."""

from __future__ import annotations

from django.core.cache import cache

from mailing.models import MemberImport
from mailing.services import member_import
from tests.factories.console import managed_list_make


def test_large_import_runs_as_a_job_with_progress(committed_tenant, dramatiq_worker):
    """A file above IMPORT_IN_REQUEST_MAX goes to the worker; the page's progress reaches the end."""
    mailing_list = managed_list_make()
    rows = ["address,name"] + [f"bulk{n}@ezweb.ne.jp,名前{n}" for n in range(member_import.IMPORT_IN_REQUEST_MAX + 500)]
    preview = member_import.member_import_preview(
        mailing_list=mailing_list, data="\n".join(rows).encode("utf-8"), filename="big.csv"
    )
    cache.delete(member_import._progress_key(preview.pk))
    member_import.member_import_enqueue(member_import=preview)
    dramatiq_worker.broker.join("console", timeout=60_000)
    dramatiq_worker.join()
    preview.refresh_from_db()
    assert preview.state == MemberImport.State.APPLIED
    assert member_import.member_import_progress(member_import=preview) >= preview.valid_rows
    assert mailing_list.members.count() == member_import.IMPORT_IN_REQUEST_MAX + 500
    member_import.member_import_run(import_id=preview.pk)  # a redelivered job does nothing
    assert mailing_list.members.count() == member_import.IMPORT_IN_REQUEST_MAX + 500
