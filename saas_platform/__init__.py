"""The Django project package: settings, URLconfs, ASGI/WSGI, embedded services, the broker."""
