"""Console views for lists, members, senders and admins. Thin: ask the policy, call a service, render."""
