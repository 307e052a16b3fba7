"""Admin screens of the newsletter app (the public views live in ``newsletters.views``)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from newsletters.drafting import draft_next_issue, new_content, pending_draft
from newsletters.models import NewsletterIndexPage


class DraftNextIssueView(WagtailAdminTemplateMixin, TemplateView):
    """Shows what the next issue would hold; on POST, drafts it."""

    template_name = "newsletters/admin/draft_next_issue.html"
    page_title = gettext_lazy("Draft the next issue")
    header_icon = "mail"

    def dispatch(self, request, *args, **kwargs):
        self.archive = get_object_or_404(NewsletterIndexPage, pk=kwargs["archive_id"])
        if not self.archive.permissions_for_user(request.user).can_add_subpage():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {
                "url": reverse("wagtailadmin_explore", args=[self.archive.pk]),
                "label": self.archive.title,
            },
            {"url": "", "label": self.page_title},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        content = new_content()
        context.update(
            archive=self.archive,
            content=content,
            pending=pending_draft(content.last_sent),
        )
        return context

    def post(self, request, *args, **kwargs):
        result = draft_next_issue(user=request.user)
        if result.page is None:
            messages.info(request, _("Nothing new has been published since the last issue."))
            return redirect("wagtailadmin_explore", self.archive.pk)
        if result.created:
            messages.success(
                request,
                _("Issue #%(number)d drafted: %(summary)s. Edit it, then publish.")
                % {"number": result.page.issue_number, "summary": result.content.summary()},
            )
        else:
            messages.info(request, _("A drafted issue is already waiting for you."))
        return redirect(reverse("wagtailadmin_pages:edit", args=[result.page.pk]))
