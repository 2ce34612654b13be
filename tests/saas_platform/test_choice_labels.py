"""Every status, state and kind a model shows people reads in the page's language.

A broadcast's recipient table showed "sent" on a Japanese page: choice labels were plain strings.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import translation

from mailing.models import Delivery

OUR_APPS = ("mailing", "org_groups", "tenants", "accounts", "audit", "billing")


def _choice_fields():
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "choices", None):
                yield pytest.param(model, field, id=f"{model.__name__}.{field.name}")


@pytest.mark.parametrize(("model", "field"), list(_choice_fields()))
def test_choice_labels_are_translated_to_japanese(model, field):
    with translation.override("ja"):
        untranslated = [
            (value, str(label)) for value, label in field.flatchoices if str(label).isascii() and str(label)
        ]
    assert not untranslated, f"{model.__name__}.{field.name} shows English on a Japanese page: {untranslated}"


def test_delivery_status_reads_in_japanese():
    delivery = Delivery(status=Delivery.Status.SENT)
    with translation.override("ja"):
        assert delivery.get_status_display() == "送信済み"
    with translation.override("en"):
        assert delivery.get_status_display() == "sent"
