"""Admin registrations of the content app."""

from wagtail import hooks

from cms.api.admin import WebhookDeliveryViewSet


@hooks.register("register_admin_viewset")
def register_webhook_deliveries():
    return WebhookDeliveryViewSet("webhook_deliveries")
