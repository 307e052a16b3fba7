"""Admin registrations and page-serving rules of the content app."""

from django.http import Http404
from wagtail import hooks

from cms.api.admin import WebhookDeliveryViewSet
from cms.visibility import is_expired


@hooks.register("register_admin_viewset")
def register_webhook_deliveries():
    return WebhookDeliveryViewSet("webhook_deliveries")


@hooks.register("before_serve_page")
def refuse_expired_pages(page, request, serve_args, serve_kwargs):
    """A page past its expiry is gone at once, not when `publish_scheduled` next runs."""
    if is_expired(page) and not getattr(request, "is_preview", False):
        raise Http404("not found")
