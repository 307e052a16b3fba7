"""Webhook deliveries in the Wagtail admin (Settings → Webhook deliveries), for operators."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.model import ModelViewSet

from cms.api.models import WebhookDelivery


class WebhookDeliveryViewSet(ModelViewSet):
    model = WebhookDelivery
    icon = "resubmit"
    menu_label = _("Webhook deliveries")
    add_to_settings_menu = True
    list_display = ["event", "url", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    inspect_view_enabled = True
    inspect_view_fields = [
        "event",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "payload",
    ]
    copy_view_enabled = False
    # Deliveries are written by the system; an operator may only mark one as given up.
    form_fields = ["status"]
