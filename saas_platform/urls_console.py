"""The console of an organization's host. Every view here asks accounts.policy; the role matrix test
(tests/saas_platform/test_console_roles.py) walks every pattern of this module."""

from django.urls import path

from mailing.views import admins, broadcast_results, broadcasts, lists, members, people, senders
from org_groups.views import groups, rollover, transfers
from saas_platform import views

app_name = "console"

urlpatterns = [
    path("", views.console_home, name="home"),
    path("language/", views.language_set, name="language_set"),
    path("audit/", views.audit_event_list, name="audit"),
    path("dev/mail/", views.dev_mail, name="dev_mail"),
    path("lists/new/", lists.list_create, name="list_create"),
    path("lists/<int:list_id>/", lists.list_detail, name="list_detail"),
    path("lists/<int:list_id>/edit/", lists.list_edit, name="list_edit"),
    path("lists/<int:list_id>/delete/", lists.list_delete, name="list_delete"),
    path("lists/<int:list_id>/members/", members.member_list, name="member_list"),
    path("lists/<int:list_id>/members/add/", members.member_add, name="member_add"),
    path("lists/<int:list_id>/members/bulk/", members.member_bulk, name="member_bulk"),
    path("lists/<int:list_id>/members/export.csv", members.member_export, name="member_export"),
    path("lists/<int:list_id>/members/import/", members.member_import, name="member_import"),
    path(
        "lists/<int:list_id>/members/import/<int:import_id>/",
        members.member_import_preview,
        name="member_import_preview",
    ),
    path(
        "lists/<int:list_id>/members/import/<int:import_id>/progress/",
        members.member_import_progress,
        name="member_import_progress",
    ),
    path("lists/<int:list_id>/members/<int:member_id>/edit/", members.member_edit, name="member_edit"),
    path("lists/<int:list_id>/members/<int:member_id>/delete/", members.member_delete, name="member_delete"),
    path("lists/<int:list_id>/members/<int:member_id>/status/", members.member_status, name="member_status"),
    path("lists/<int:list_id>/senders/", senders.sender_list, name="sender_list"),
    path("lists/<int:list_id>/senders/<int:sender_id>/edit/", senders.sender_edit, name="sender_edit"),
    path("lists/<int:list_id>/senders/<int:sender_id>/delete/", senders.sender_delete, name="sender_delete"),
    path("lists/<int:list_id>/admins/", admins.admin_list, name="admin_list"),
    path("lists/<int:list_id>/admins/<int:admin_id>/edit/", admins.admin_edit, name="admin_edit"),
    path("lists/<int:list_id>/admins/<int:admin_id>/delete/", admins.admin_delete, name="admin_delete"),
    # Broadcasts: compose, preview, send or schedule, history, results (F7-F11)
    path("broadcasts/", broadcasts.broadcast_history, name="broadcast_history"),
    path("broadcasts/new/", broadcasts.broadcast_compose, name="broadcast_compose"),
    path("broadcasts/scheduled/", broadcasts.broadcast_scheduled_list, name="broadcast_scheduled_list"),
    path("broadcasts/<int:broadcast_id>/", broadcasts.broadcast_detail, name="broadcast_detail"),
    path("broadcasts/<int:broadcast_id>/edit/", broadcasts.broadcast_edit, name="broadcast_edit"),
    path("broadcasts/<int:broadcast_id>/preview/", broadcasts.broadcast_preview, name="broadcast_preview"),
    path("broadcasts/<int:broadcast_id>/send/", broadcasts.broadcast_send, name="broadcast_send"),
    path("broadcasts/<int:broadcast_id>/schedule/", broadcasts.broadcast_schedule, name="broadcast_schedule"),
    path("broadcasts/<int:broadcast_id>/cancel/", broadcasts.broadcast_cancel, name="broadcast_cancel"),
    path("broadcasts/<int:broadcast_id>/progress/", broadcasts.broadcast_progress_partial, name="broadcast_progress"),
    path("broadcasts/<int:broadcast_id>/reads/", broadcast_results.broadcast_reads, name="broadcast_reads"),
    path("broadcasts/<int:broadcast_id>/reads.csv", broadcast_results.broadcast_reads_csv, name="broadcast_reads_csv"),
    path("broadcasts/<int:broadcast_id>/survey/", broadcast_results.broadcast_survey, name="broadcast_survey"),
    path(
        "broadcasts/<int:broadcast_id>/survey.csv", broadcast_results.broadcast_survey_csv, name="broadcast_survey_csv"
    ),
    path("broadcasts/<int:broadcast_id>/follow-up/", broadcast_results.broadcast_follow_up, name="broadcast_follow_up"),
    # Groups (F6): the tree (owners), moving/copying members (group admins), the yearly rollover (owners).
    path("groups/", groups.group_tree, name="group_tree"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/<int:group_id>/edit/", groups.group_edit, name="group_edit"),
    path("groups/<int:group_id>/reorder/", groups.group_reorder, name="group_reorder"),
    path("groups/<int:group_id>/delete/", groups.group_delete, name="group_delete"),
    path("groups/<int:group_id>/admins/", groups.group_admin_list, name="group_admin_list"),
    path("groups/<int:group_id>/admins/<int:role_id>/delete/", groups.group_admin_delete, name="group_admin_delete"),
    path("transfer/", transfers.transfer_home, name="transfer_home"),
    path("transfer/lists/<int:list_id>/", transfers.transfer_select, name="transfer_select"),
    path("transfers/<int:transfer_id>/", transfers.transfer_detail, name="transfer_detail"),
    path("transfers/<int:transfer_id>/apply/", transfers.transfer_apply, name="transfer_apply"),
    path("transfers/<int:transfer_id>/undo/", transfers.transfer_undo, name="transfer_undo"),
    path("rollover/", rollover.rollover_start, name="rollover_start"),
    path("rollover/<int:rollover_id>/", rollover.rollover_detail, name="rollover_detail"),
    path("rollover/<int:rollover_id>/apply/", rollover.rollover_apply, name="rollover_apply"),
    path("rollover/<int:rollover_id>/undo/", rollover.rollover_undo, name="rollover_undo"),
    # The organization-wide directory of people (owners).
    path("people/", people.directory, name="directory"),
    path("people/new/", people.person_create, name="person_create"),
    path("people/<int:person_id>/", people.person_detail, name="person_detail"),
    path("people/<int:person_id>/delete/", people.person_delete, name="person_delete"),
    path(
        "people/<int:person_id>/addresses/<int:address_id>/delete/",
        people.person_address_delete,
        name="person_address_delete",
    ),
]
