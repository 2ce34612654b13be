"""The organization-wide directory (owners): people with their addresses and lists, searchable, and
the member addresses that belong to no person yet."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from mailing.errors import MailingUserError
from mailing.forms import STATUS_LABELS, PersonAddressForm, PersonCreateForm, PersonForm
from mailing.models import Person, PersonAddress
from mailing.selectors.people import directory_people, directory_unlinked, person_get, person_memberships
from mailing.services import people as people_services


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    policy.require(policy.directory_can_view(request.user))
    search = request.GET.get("q", "").strip()[:200]
    people_page, people = directory_people(search=search, page_number=request.GET.get("page"))
    loose_page, loose = directory_unlinked(search=search, page_number=request.GET.get("loose_page"))
    context = {
        "search": search,
        "people_page": people_page,
        "people": people,
        "loose_page": loose_page,
        "loose": loose,
        "query": urlencode({"q": search}) if search else "",
        "status_labels": STATUS_LABELS,
    }
    template = "mailing/_directory_results.html" if request.htmx and not request.htmx.boosted else None
    return render(request, template or "mailing/directory.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def person_create(request: HttpRequest) -> HttpResponse:
    policy.require(policy.directory_can_view(request.user))
    initial = {"address": request.GET.get("address", ""), "name": request.GET.get("name", "")}
    form = PersonCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = people_services.person_create(
                name=data["name"], note=data["note"], addresses=[(data["address"], data["label"])], actor=request.user
            )
        except MailingUserError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("%(name)s was added to the directory.") % {"name": person.name})
            return redirect("console:person_detail", person_id=person.pk)
    return render(request, "mailing/person_form.html", {"form": form})


def _person(request: HttpRequest, person_id: int) -> Person:
    policy.require(policy.directory_can_view(request.user))
    person = person_get(person_id=person_id)
    if person is None:
        raise Http404
    return person


@login_required
@require_http_methods(["GET", "POST"])
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(request, person_id)
    form = PersonForm(
        request.POST if request.POST.get("form") == "person" else None,
        initial={"name": person.name, "note": person.note},
    )
    address_form = PersonAddressForm(request.POST if request.POST.get("form") == "address" else None)
    if request.method == "POST":
        try:
            if form.is_bound and form.is_valid():
                people_services.person_update(person=person, actor=request.user, **form.cleaned_data)
                messages.success(request, _("%(name)s was saved.") % {"name": person.name})
                return redirect("console:person_detail", person_id=person.pk)
            if address_form.is_bound and address_form.is_valid():
                entry = people_services.person_address_add(
                    person=person, actor=request.user, **address_form.cleaned_data
                )
                messages.success(request, _("%(address)s was added.") % {"address": entry.address})
                return redirect("console:person_detail", person_id=person.pk)
        except MailingUserError as error:
            (form if form.is_bound else address_form).add_error(None, str(error))
    return render(
        request,
        "mailing/person_detail.html",
        {
            "person": person,
            "form": form,
            "address_form": address_form,
            "addresses": person.addresses.order_by("id"),
            "memberships": person_memberships(person=person),
            "status_labels": STATUS_LABELS,
        },
    )


@login_required
@require_POST
def person_delete(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person(request, person_id)
    people_services.person_delete(person=person, actor=request.user)
    messages.success(request, _("%(name)s was removed from the directory.") % {"name": person.name})
    return redirect("console:directory")


@login_required
@require_POST
def person_address_delete(request: HttpRequest, person_id: int, address_id: int) -> HttpResponse:
    person = _person(request, person_id)
    entry = get_object_or_404(PersonAddress, pk=address_id, person=person)
    people_services.person_address_remove(person_address=entry, actor=request.user)
    messages.success(
        request, _("%(address)s no longer belongs to %(name)s.") % {"address": entry.address, "name": person.name}
    )
    return redirect("console:person_detail", person_id=person.pk)
