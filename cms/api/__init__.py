"""The headless content API for external sites (see "Consuming the API" in the README)."""

from cms.api.router import api_router

__all__ = ["api_router"]
