"""The /api/v2/ router for external sites."""

from wagtail.api.v2.router import WagtailAPIRouter

from cms.api.preview import PagePreviewEndpoint
from cms.api.views import DocumentsEndpoint, ImagesEndpoint, PagesEndpoint

api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PagesEndpoint)
api_router.register_endpoint("images", ImagesEndpoint)
api_router.register_endpoint("documents", DocumentsEndpoint)
api_router.register_endpoint("page_preview", PagePreviewEndpoint)
