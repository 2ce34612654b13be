"""Views of the mailing app.

- `links`: pages that links in mail open (no login; the token is the credential), mounted at /m/.
- `lists`, `members`, `senders`, `admins`: the console (login; every view asks accounts.policy),
  mounted by saas_platform.urls_console.
"""
