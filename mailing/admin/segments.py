"""Segment admin: the editor (a snippet with its conditions as a StreamField), its live
count as the conditions change, and the count column of the listing."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from wagtail.admin.panels import FieldPanel, FieldRowPanel, Panel
from wagtail.admin.ui.tables import Column, TitleColumn
from wagtail.snippets.views.snippets import SnippetViewSet

from mailing import segments
from mailing.models import Segment


class SegmentCountPanel(Panel):
    """How many active, unsuppressed subscribers the conditions select, kept up to date
    (debounced) while the editor changes them."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "mailing/admin/segment_count.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["count_url"] = reverse("mailing_segment_count")
            context["count"] = segments.count(self.instance) if self.instance.pk else None
            return context


class SegmentViewSet(SnippetViewSet):
    model = Segment
    icon = "filter"
    menu_label = _("Segments")
    list_display = [
        TitleColumn("name", label=_("Name"), url_name="wagtailsnippets_mailing_segment:edit"),
        "slug",
        Column("match", label=_("Match"), accessor="get_match_display"),
        Column("count", label=_("Subscribers"), accessor=segments.count),
    ]
    search_fields = ["name", "slug"]
    search_backend_name = None
    copy_view_enabled = False
    panels = [
        FieldRowPanel([FieldPanel("name"), FieldPanel("slug")]),
        FieldPanel("description"),
        FieldPanel("match"),
        FieldPanel("conditions"),
        SegmentCountPanel(heading=_("Subscribers")),
    ]


MAX_CONDITIONS = 50


@require_POST
def count_view(request):
    """The editor's form as it stands (unsaved) → ``{"count": N}``, or ``{"error": …}``
    (400) while a condition is incomplete."""
    user = request.user
    if not (user.has_perm("mailing.add_segment") or user.has_perm("mailing.change_segment")):
        raise PermissionDenied
    field = Segment._meta.get_field("conditions").formfield()
    try:
        raw = field.widget.value_from_datadict(request.POST, request.FILES, "conditions")
        conditions = field.clean(raw)
    except ValidationError:
        return JsonResponse({"error": str(_("Complete the conditions to count."))}, status=400)
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": str(_("The conditions could not be read."))}, status=400)
    if len(conditions) > MAX_CONDITIONS:
        return JsonResponse({"error": str(_("Too many conditions."))}, status=400)
    match = request.POST.get("match", Segment.Match.ALL)
    if match not in Segment.Match.values:
        match = Segment.Match.ALL
    return JsonResponse({"count": segments.reachable(conditions, match).count()})


def urls():
    return [path("mailing/segments/count/", count_view, name="mailing_segment_count")]
