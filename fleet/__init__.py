"""Fleet: one read asked of many accounts and regions at once.

`selectors.py` (what the caller may ask for: account lists, organization selectors, region lists and globs),
`organization.py` (AWS Organizations: the member accounts, their OUs and tags, cached), `regions.py` (the regions a
service exists in and an account has enabled), `plan.py` (selectors → the target matrix, each target with the
credentials that reach it), `fanout.py` (running one piece of work per target: a global concurrency limit, token
buckets per account × region × service, back-off when AWS throttles, progress, per-target errors),
`query.py` (`fleet_query`'s per-target read and the result), `tools.py` (the MCP tools), `listings.py` (one
inventory listing into its partition), `inventory_tools.py` (the inventory tools), `write_through.py` (partitions
listed again after the server's own writes), `scheduler.py` (the background refresh and housekeeping),
`provider.py` (all of it on one instance, and its background work).
"""
