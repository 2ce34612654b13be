"""CSV import of members (F4): preview with per-row errors, then apply everything or nothing.

Files come from Excel as often as not: "CSV UTF-8" (with a BOM), plain UTF-8, or "CSV" which on a
Japanese Windows is Shift_JIS (really Microsoft's cp932, a superset). Names are kept exactly.
Columns: address, name (a header row is recognised in English or Japanese; without one, the first
column is the address and the second the name).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailing.errors import MailingUserError
from mailing.models import MailingList, Member, MemberImport, PersonAddress, address_normalize
from mailing.services.members import address_validate, list_writable_require, person_name_clean
from tenants.jobs import job_send_on_commit

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
ERRORS_KEPT = 500
BATCH = 2000
# Files with more valid rows than this are imported by a job, with a progress bar; smaller ones at once.
IMPORT_IN_REQUEST_MAX = 2000
ADDRESS_HEADERS = {"address", "email", "e-mail", "mail", "メールアドレス", "メール", "アドレス", "eメール", "ｅメール"}
NAME_HEADERS = {"name", "名前", "氏名", "お名前", "表示名"}


@dataclass
class ParsedImport:
    encoding: str
    rows: list[tuple[int, str, str]] = field(default_factory=list)  # (line, address, name), valid only
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    total_rows: int = 0


def csv_decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read with: UTF-8 (BOM or not), else cp932 (Excel's Shift_JIS)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError as error:
        raise MailingUserError(
            _("The file is neither UTF-8 nor Shift_JIS text. Save it as CSV and try again.")
        ) from error


def _columns(first_row: list[str]) -> tuple[int, int | None, bool]:
    """(address column, name column, whether the first row is a header)."""
    cells = [cell.strip().lower() for cell in first_row]
    address_col = next((i for i, cell in enumerate(cells) if cell in ADDRESS_HEADERS), None)
    if address_col is None:
        return 0, 1, False
    name_col = next((i for i, cell in enumerate(cells) if cell in NAME_HEADERS), None)
    return address_col, name_col, True


def csv_parse(*, mailing_list: MailingList, data: bytes) -> ParsedImport:
    if len(data) > MAX_BYTES:
        raise MailingUserError(_("The file is too large (at most 20 MB)."))
    text, encoding = csv_decode(data)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    parsed = ParsedImport(encoding=encoding)
    if not rows:
        raise MailingUserError(_("The file is empty."))
    address_col, name_col, has_header = _columns(rows[0])
    existing = set(Member.objects.filter(mailing_list=mailing_list).values_list("address_normalized", flat=True))
    seen: dict[str, int] = {}

    def error(line: int, address: str, message: str) -> None:
        parsed.error_count += 1
        if len(parsed.errors) < ERRORS_KEPT:
            parsed.errors.append({"line": line, "address": address[:254], "error": message})

    for index, row in enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1):
        if not any(cell.strip() for cell in row):
            continue  # blank lines, as Excel leaves them at the end
        parsed.total_rows += 1
        if parsed.total_rows > MAX_ROWS:
            raise MailingUserError(_("The file has more than %(max)d rows.") % {"max": MAX_ROWS})
        address = row[address_col].strip() if address_col < len(row) else ""
        name = row[name_col] if name_col is not None and name_col < len(row) else ""
        try:
            address = address_validate(address)
        except MailingUserError as problem:
            error(index, address, str(problem))
            continue
        key = address_normalize(address)
        if key in existing:
            error(index, address, _("already a member of this list"))
            continue
        if key in seen:
            error(index, address, _("appears twice in the file (also on line %(line)d)") % {"line": seen[key]})
            continue
        seen[key] = index
        parsed.rows.append((index, address, person_name_clean(name)))
    return parsed


@transaction.atomic
def member_import_preview(*, mailing_list: MailingList, data: bytes, filename: str, actor: Any = None) -> MemberImport:
    """Read the file and keep it with what an import would do; changes no member."""
    list_writable_require(mailing_list)
    parsed = csv_parse(mailing_list=mailing_list, data=data)
    return MemberImport.objects.create(
        mailing_list=mailing_list,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        filename=filename[:255],
        encoding=parsed.encoding,
        raw=data,
        total_rows=parsed.total_rows,
        valid_rows=len(parsed.rows),
        errors=parsed.errors,
        error_count=parsed.error_count,
    )


def member_import_progress(*, member_import: MemberImport) -> int:
    """Rows inserted so far by a running import (kept in the cache: the insert is one transaction)."""
    return cache.get(_progress_key(member_import.pk), 0)


def _progress_key(import_id: int) -> str:
    return f"member-import-progress:{import_id}"


def _apply(*, member_import: MemberImport, actor: Any, report_progress: bool) -> MemberImport:
    """Insert every valid row (call inside a transaction holding the import's row lock)."""
    mailing_list = member_import.mailing_list
    list_writable_require(mailing_list)
    parsed = csv_parse(mailing_list=mailing_list, data=bytes(member_import.raw))
    keys = [address_normalize(address) for _line, address, _name in parsed.rows]
    people = dict(
        PersonAddress.objects.filter(address_normalized__in=keys).values_list("address_normalized", "person_id")
    )
    members = [
        Member(
            mailing_list=mailing_list,
            address=address,
            address_normalized=key,
            name=name,
            source=Member.Source.IMPORT,
            person_id=people.get(key),
        )
        for (_line, address, name), key in zip(parsed.rows, keys, strict=True)
    ]
    try:
        with transaction.atomic():
            for start in range(0, len(members), BATCH):
                Member.objects.bulk_create(members[start : start + BATCH])
                if report_progress:
                    cache.set(_progress_key(member_import.pk), start + BATCH, timeout=3600)
    except IntegrityError as error:
        raise MailingUserError(_("Members changed while importing; nothing was imported. Try again.")) from error
    member_import.state = MemberImport.State.APPLIED
    member_import.imported_count = len(members)
    member_import.applied_at = timezone.now()
    member_import.save(update_fields=["state", "imported_count", "applied_at"])
    audit_record(
        actor=actor,
        action="member.import",
        obj=member_import,
        object_label=member_import.filename,
        mailing_list_id=mailing_list.pk,
        after={
            "imported": len(members),
            "skipped_rows": parsed.error_count,
            "encoding": parsed.encoding,
            "addresses": [m.address for m in members[:1000]],
        },
    )
    return member_import


def _previewed_locked(member_import: MemberImport) -> MemberImport:
    member_import = MemberImport.objects.select_for_update().get(pk=member_import.pk)
    if member_import.state != MemberImport.State.PREVIEWED:
        raise MailingUserError(_("This file has already been imported."))
    return member_import


@transaction.atomic
def member_import_apply(*, member_import: MemberImport, actor: Any = None) -> MemberImport:
    """Add every valid row of a previewed file in one transaction: all of them or, on any failure, none.

    Rows with errors (shown in the preview) are skipped. The file is read again against the members
    as they are now, so someone added meanwhile is skipped rather than duplicated."""
    return _apply(member_import=_previewed_locked(member_import), actor=actor, report_progress=False)


@transaction.atomic
def member_import_enqueue(*, member_import: MemberImport, actor: Any = None) -> MemberImport:
    """Hand a large previewed file to a job (`member_import_run`); the page polls its progress."""
    member_import = _previewed_locked(member_import)
    member_import.state = MemberImport.State.QUEUED
    if getattr(actor, "is_authenticated", False):
        member_import.created_by = actor
    member_import.save(update_fields=["state", "created_by"])
    job_send_on_commit("member_import_run", connection.schema_name, member_import.pk)
    return member_import


def member_import_run(*, import_id: int) -> None:
    """The job's body: apply a queued import. Running it again after it finished does nothing; after a
    crash mid-way (state RUNNING, nothing committed) it starts over."""
    with transaction.atomic():
        member_import = MemberImport.objects.select_for_update().filter(pk=import_id).first()
        if member_import is None or member_import.state not in {MemberImport.State.QUEUED, MemberImport.State.RUNNING}:
            return
        member_import.state = MemberImport.State.RUNNING
        member_import.save(update_fields=["state"])
    try:
        with transaction.atomic():
            member_import = MemberImport.objects.select_for_update().get(pk=import_id)
            _apply(member_import=member_import, actor=member_import.created_by, report_progress=True)
    except MailingUserError as error:
        MemberImport.objects.filter(pk=import_id).update(state=MemberImport.State.FAILED, failure=str(error))
    except Exception:
        # Our fault: nothing was imported (the transaction rolled back); say so on the page, then let
        # the error reach the logs and Sentry.
        MemberImport.objects.filter(pk=import_id).update(state=MemberImport.State.FAILED)
        raise
