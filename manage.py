#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    from saas_platform.embedded import run_env_load

    # Beside `make run` (a second terminal, nothing configured): use its database, Redis and DEBUG.
    run_env_load()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas_platform.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
