"""The "From newsletters" panel on interview, good practice and event pages.

Content apps know nothing of mailing, so mailing adds this panel to their promote tab
when the app registry is ready (``MailingConfig.ready``), before any edit form is built.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import Panel


class NewsletterClicksPanel(Panel):
    """Clicks from newsletter issues to this page, summed across issues and per campaign."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "mailing/admin/page_clicks.html"

        def is_shown(self):
            return bool(self.instance and self.instance.pk) and super().is_shown()

        def get_context_data(self, parent_context=None):
            from mailing.admin.reports import page_clicks

            context = super().get_context_data(parent_context)
            context["clicks"] = page_clicks(self.instance)
            return context


def content_models():
    from cms.models import EventPage, GoodPracticePage
    from interviews.models import InterviewPage

    return [InterviewPage, GoodPracticePage, EventPage]


def add_panels():
    """Put the panel at the end of each content page's promote tab (once)."""
    for model in content_models():
        panels = list(model.promote_panels)
        if not any(isinstance(panel, NewsletterClicksPanel) for panel in panels):
            panels.append(NewsletterClicksPanel(heading=_("From newsletters")))
            model.promote_panels = panels
