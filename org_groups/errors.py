class OrgGroupsError(Exception):
    """Base of the org_groups app's errors: logged and sent to Sentry."""


class OrgGroupsUserError(OrgGroupsError):
    """Bad input or a refused request from a person: shown to them as a clear notice."""


class PlanOutdatedError(OrgGroupsUserError):
    """The lists changed after the rollover plan was made: nothing was applied; review the new plan."""
