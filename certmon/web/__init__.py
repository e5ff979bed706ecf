"""Web plumbing shared by the API and the dashboard: the caller, roles, the database session, paging.

It lives below the domain packages so that they can declare their routes without importing
`certmon.api`, which only assembles the routers into the application.
"""
