"""The headless content API for external sites (see "Consuming the API" in the README).

``router`` holds the /api/v2/ endpoints, ``representation`` builds their JSON in batches,
``caching`` keeps rendered bodies and HTTP validators, ``preview`` serves drafts,
``calendar`` the iCalendar feed, ``webhooks`` tells front ends what changed, ``models``
keeps the content version and webhook deliveries.
"""
