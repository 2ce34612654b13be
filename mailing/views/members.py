from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from mailing.errors import MailingUserError
from mailing.forms import STATUS_LABELS, MemberForm, MemberImportForm
from mailing.models import Member, MemberImport
from mailing.selectors.members import SORTS, members_csv_rows, members_filter
from mailing.services import member_import as import_services
from mailing.services import members as member_services
from mailing.views.common import address_row_edit, form_saved, ids_from, list_context, list_for_user

PAGE_SIZE = 50


def _filters(source) -> dict[str, str]:
    sort = source.get("sort", "")
    return {
        "q": source.get("q", "").strip()[:200],
        "status": source.get("status", "") if source.get("status", "") in Member.Status.values else "",
        "sort": sort if sort in SORTS else "address",
    }


def _table_context(request: HttpRequest, mailing_list, filters: dict[str, str], page_number) -> dict:
    members = members_filter(
        mailing_list=mailing_list, search=filters["q"], status=filters["status"], sort=filters["sort"]
    )
    page = Paginator(members, PAGE_SIZE).get_page(page_number)
    for member in page.object_list:
        member.status_label = STATUS_LABELS.get(member.status, member.status)
    return list_context(
        request,
        mailing_list,
        page=page,
        filters=filters,
        query=urlencode({k: v for k, v in filters.items() if v}),
        query_without_sort=urlencode({k: v for k, v in filters.items() if v and k != "sort"}),
        statuses=[(value, STATUS_LABELS[value]) for value in Member.Status.values],
        tab="members",
    )


@login_required
def member_list(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    context = _table_context(request, mailing_list, _filters(request.GET), request.GET.get("page"))
    template = "mailing/_member_table.html" if request.htmx and not request.htmx.boosted else "mailing/members.html"
    return render(request, template, context)


@login_required
def member_export(request: HttpRequest, list_id: int) -> StreamingHttpResponse:
    """The members shown (same search, status and sort; every page) as CSV."""
    mailing_list = list_for_user(request.user, list_id)
    filters = _filters(request.GET)
    members = members_filter(
        mailing_list=mailing_list, search=filters["q"], status=filters["status"], sort=filters["sort"]
    )
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in members_csv_rows(members, tz=timezone.get_current_timezone())),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{mailing_list.local_part}-members-{stamp}.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def member_add(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    form = MemberForm(request.POST or None)
    member = form_saved(
        request, form, lambda data: member_services.member_add(mailing_list=mailing_list, actor=request.user, **data)
    )
    if member is not None:
        messages.success(request, _("%(address)s was added.") % {"address": member.address})
        return redirect("console:member_list", list_id=mailing_list.pk)
    return render(request, "mailing/member_form.html", list_context(request, mailing_list, form=form, tab="members"))


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, list_id: int, member_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    member = get_object_or_404(Member, pk=member_id, mailing_list=mailing_list)
    form = MemberForm(request.POST or None, initial={"address": member.address, "name": member.name})
    return address_row_edit(
        request,
        mailing_list,
        member,
        form,
        lambda data: member_services.member_update(member=member, actor=request.user, **data),
        page="member",
    )


@login_required
@require_POST
def member_delete(request: HttpRequest, list_id: int, member_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    member = get_object_or_404(Member, pk=member_id, mailing_list=mailing_list)
    member_services.member_remove(member=member, actor=request.user)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("%(address)s was removed.") % {"address": member.address})
    return redirect("console:member_list", list_id=mailing_list.pk)


@login_required
@require_POST
def member_status(request: HttpRequest, list_id: int, member_id: int) -> HttpResponse:
    """Suspend (配信停止) or resume (再開) one member; answers the row for htmx."""
    mailing_list = list_for_user(request.user, list_id)
    member = get_object_or_404(Member, pk=member_id, mailing_list=mailing_list)
    status = Member.Status.SUSPENDED if request.POST.get("action") == "suspend" else Member.Status.ACTIVE
    member_services.member_status_set(member=member, status=status, actor=request.user)
    if request.htmx:
        member.status_label = STATUS_LABELS.get(member.status, member.status)
        return render(request, "mailing/_member_row.html", list_context(request, mailing_list, member=member))
    return redirect("console:member_list", list_id=mailing_list.pk)


@login_required
@require_POST
def member_bulk(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    ids = ids_from(request.POST.getlist("member"))
    action = request.POST.get("bulk_action", "")
    filters = _filters(request.POST)
    notice, error = "", ""
    if not ids:
        error = _("Select members first.")
    else:
        try:
            count = member_services.members_bulk_apply(
                mailing_list=mailing_list, member_ids=ids, action=action, actor=request.user
            )
        except MailingUserError as problem:
            error = str(problem)
        else:
            notice = _("%(count)d members changed.") % {"count": count}
    context = _table_context(request, mailing_list, filters, request.POST.get("page"))
    context.update(notice=notice, error=error)
    if request.htmx:
        return render(request, "mailing/_member_table.html", context)
    if notice:
        messages.success(request, notice)
    if error:
        messages.error(request, error)
    return redirect("console:member_list", list_id=mailing_list.pk)


@login_required
@require_http_methods(["GET", "POST"])
def member_import(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    form = MemberImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > import_services.MAX_BYTES:
                raise MailingUserError(_("The file is too large (at most 20 MB)."))
            imported = import_services.member_import_preview(
                mailing_list=mailing_list, data=upload.read(), filename=upload.name, actor=request.user
            )
        except MailingUserError as error:
            form.add_error(None, str(error))
        else:
            return redirect("console:member_import_preview", list_id=mailing_list.pk, import_id=imported.pk)
    return render(request, "mailing/member_import.html", list_context(request, mailing_list, form=form, tab="members"))


@login_required
@require_http_methods(["GET", "POST"])
def member_import_preview(request: HttpRequest, list_id: int, import_id: int) -> HttpResponse:
    mailing_list = list_for_user(request.user, list_id)
    imported = get_object_or_404(MemberImport, pk=import_id, mailing_list=mailing_list)
    error = ""
    if request.method == "POST":
        try:
            if imported.valid_rows <= import_services.IMPORT_IN_REQUEST_MAX:
                imported = import_services.member_import_apply(member_import=imported, actor=request.user)
            else:
                import_services.member_import_enqueue(member_import=imported, actor=request.user)
                return redirect("console:member_import_preview", list_id=mailing_list.pk, import_id=imported.pk)
        except MailingUserError as problem:
            error = str(problem)
        else:
            messages.success(request, _("%(count)d members were imported.") % {"count": imported.imported_count})
            return redirect("console:member_list", list_id=mailing_list.pk)
    return render(
        request,
        "mailing/member_import_preview.html",
        _import_context(request, mailing_list, imported, error=error),
    )


def _import_context(request: HttpRequest, mailing_list, imported: MemberImport, **extra) -> dict:
    done = import_services.member_import_progress(member_import=imported)
    if imported.state == MemberImport.State.APPLIED:
        done = imported.valid_rows
    percent = int(100 * min(done, imported.valid_rows) / imported.valid_rows) if imported.valid_rows else 100
    return list_context(
        request,
        mailing_list,
        imported=imported,
        progress_done=min(done, imported.valid_rows),
        percent=percent,
        tab="members",
        **extra,
    )


@login_required
def member_import_progress(request: HttpRequest, list_id: int, import_id: int) -> HttpResponse:
    """The progress of a queued import, polled by htmx every second until it ends."""
    mailing_list = list_for_user(request.user, list_id)
    imported = get_object_or_404(MemberImport, pk=import_id, mailing_list=mailing_list)
    return render(request, "mailing/_member_import_progress.html", _import_context(request, mailing_list, imported))
