from tests.inbound_support import dns_server, dns_settings, mx, mx_start  # noqa: F401  (fixtures)
