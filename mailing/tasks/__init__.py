"""The mailing app's dramatiq actors, one module per stage (inbound processing, delivery, console jobs).

Nothing imports these modules: services send jobs by actor name (tenants.jobs), and the worker
declares every actor at start (tenants.jobs.actors_import).
"""
