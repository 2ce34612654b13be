"""Writes of the org_groups app: the tree (tree.py), moving/copying members (transfers.py), the
yearly rollover (rollover.py)."""
