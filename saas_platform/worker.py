"""Entry point for `dramatiq saas_platform.worker`: set Django up, then declare every app's actors.

The actors' modules import the services they run at the top, so declaring them also loads the
inbound pipeline's modules (dkimpy, dnspython, pyspf, flufl.bounce): the first post after a worker
starts does not wait ~150 ms for them.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")
django.setup()

from tenants.jobs import actors_import  # noqa: E402  (after django.setup: the actors import models)

actors_import()
