"""Links that mail carries to people (moderation, join confirmation, unsubscribe): tenant URLs."""

urlpatterns: list = []
