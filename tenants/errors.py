class TenantsError(Exception):
    """Base of the tenants app's errors."""


class TenantsUserError(TenantsError):
    """Bad input from a person: shown to them as a clear message."""
