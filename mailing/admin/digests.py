"""The admin's side of the digest schedule: the history entry and the dashboard panel that
tell editors a drafted issue waits for them."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.components import Component
from wagtail.models import PageLogEntry

from mailing.digests import LOG_ACTION
from newsletters.models import NewsletterPage


class DraftsWaitingPanel(Component):
    """Issues the schedule drafted that nobody has sent yet, newest first."""

    name = "digest_drafts"
    order = 90
    template_name = "mailing/admin/digest_drafts_panel.html"

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context=None):
        drafted = PageLogEntry.objects.filter(action=LOG_ACTION).values("page_id")
        issues = NewsletterPage.objects.filter(pk__in=drafted, sent_at__isnull=True).order_by(
            "-issue_number"
        )[:5]
        return {"issues": list(issues), "heading": _("Drafted by the digest schedule")}

    def render_html(self, parent_context=None):
        context = self.get_context_data(parent_context)
        if not context["issues"]:
            return ""
        return super().render_html(parent_context)
