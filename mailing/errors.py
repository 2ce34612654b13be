class MailingError(Exception):
    """Base of the mailing app's errors: logged and sent to Sentry."""


class MailingUserError(MailingError):
    """Bad input from a person (a console form, a CSV row, a mail): shown to them as a clear notice."""
