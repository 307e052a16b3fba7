"""The “Email checks” panel on a newsletter issue's edit view."""

from wagtail.admin.panels import Panel

from newsletters.rendering import GMAIL_CLIP_BYTES


class EmailChecksPanel(Panel):
    """Renders the issue as saved and lists what to fix before it is sent."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "newsletters/admin/email_checks_panel.html"

        def get_context_data(self, parent_context=None):
            from newsletters.checks import check_issue
            from newsletters.rendering import render_email

            context = super().get_context_data(parent_context)
            page = self.instance
            context["saved"] = bool(page and page.pk)
            if context["saved"] and self.form is not None and self.form.is_bound:
                # A form sent back with errors: its instance holds the refused values (a
                # subject with a control character MJML cannot parse), not the issue; and
                # a page without unpublished changes is its own latest revision, so read
                # it again.
                page = type(page).objects.get(pk=page.pk).get_latest_revision_as_object()
            if context["saved"]:
                rendered = render_email(page)
                context["checks"] = check_issue(page, rendered)
                context["html_kb"] = round(rendered.html_bytes / 1024, 1)
                context["limit_kb"] = GMAIL_CLIP_BYTES // 1024
            return context
