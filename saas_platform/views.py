from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": connection.schema_name})


def platform_home(request: HttpRequest) -> HttpResponse:
    return render(request, "platform_home.html")


@login_required
def console_home(request: HttpRequest) -> HttpResponse:
    return render(request, "console_home.html", {"organization": request.tenant})
