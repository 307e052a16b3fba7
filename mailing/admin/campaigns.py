"""Campaign admin views: send or schedule an issue, follow a campaign, read its report.

Everyone who may edit an issue may send it as a test to chosen addresses; only users
with ``mailing.send_campaign`` (the "Newsletter senders" group) may send to lists.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail.admin.menu import MenuItem
from wagtail.admin.widgets import Button

from mailing import campaigns
from mailing.admin.forms import SendForm
from mailing.admin.reports import chart, local
from mailing.models import Campaign, Delivery, DeliveryEvent, MailingList
from mailing.sending import message, proof
from newsletters.models import NewsletterPage

SEND_PERMISSION = "mailing.send_campaign"
PER_PAGE = 25

Status = Campaign.Status

# Wagtail status-tag modifiers by campaign status.
STATUS_CLASSES = {
    Status.DRAFT: "",
    Status.SCHEDULED: "w-status--label",
    Status.SENDING: "w-status--label",
    Status.PAUSED: "w-status--label",
    Status.SENT: "w-status--primary",
    Status.CANCELLED: "w-status--disabled",
    Status.FAILED: "w-status--disabled",
}


def can_send(user) -> bool:
    return user.has_perm(SEND_PERMISSION)


def can_test(user, page) -> bool:
    return can_send(user) or page.permissions_for_user(user).can_edit()


def campaign_title(campaign: Campaign) -> str:
    return _("%(issue)s — campaign %(id)s") % {"issue": campaign.page.title, "id": campaign.pk}


def home_crumb() -> dict:
    return {"url": reverse("wagtailadmin_home"), "label": _("Home")}


def campaigns_crumb() -> dict:
    return {"url": reverse("mailing_campaigns"), "label": _("Campaigns")}


def send_view(request, page_id):
    page = get_object_or_404(NewsletterPage, pk=page_id).specific
    if not can_test(request.user, page):
        raise PermissionDenied
    allowed = can_send(request.user)
    form = SendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if "test" in request.POST:
            addresses = form.cleaned_data["test_to"]
            if not addresses:
                form.add_error("test_to", _("Give at least one address for the test."))
            else:
                sent = proof.send_test(page, addresses)
                messages.success(request, _("Test sent to %(n)s address(es).") % {"n": sent})
                return redirect("mailing_campaign_send", page.pk)
        else:
            if not allowed:
                raise PermissionDenied
            lists = form.cleaned_data["lists"]
            if not lists:
                form.add_error("lists", _("Choose at least one list."))
            else:
                # Created and confirmed in one step until a confirmation screen comes.
                with transaction.atomic():
                    campaign = campaigns.create(
                        page, lists, send_at=form.cleaned_data["send_at"], user=request.user
                    )
                    campaigns.schedule(campaign)
                messages.success(request, _("Campaign scheduled."))
                return redirect("mailing_campaign", campaign.pk)
    recent = list(page.campaigns.order_by("-created_at")[:10])
    for campaign in recent:
        campaign.status_class = STATUS_CLASSES.get(campaign.status, "")
    title = _("Send or schedule “%(title)s”") % {"title": page.title}
    return render(
        request,
        "mailing/campaigns/send.html",
        {
            "page": page,
            "form": form,
            "can_send": allowed,
            "campaigns": recent,
            "count_url": reverse("mailing_campaign_count"),
            "time_zone": form.time_zone,
            "header_title": title,
            "header_icon": "mail",
            "breadcrumbs_items": [
                home_crumb(),
                campaigns_crumb(),
                {"url": reverse("wagtailadmin_pages:edit", args=[page.pk]), "label": page.title},
                {"url": "", "label": _("Send or schedule")},
            ],
        },
    )


def count_view(request):
    """Recipients of the chosen lists after deduplication and suppressions."""
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    ids = [int(i) for i in request.GET.getlist("lists") if i.isdigit()]
    lists = MailingList.objects.filter(pk__in=ids)
    return JsonResponse({"recipients": campaigns.count_recipients(lists) if ids else 0})


def progress(campaign: Campaign) -> dict:
    counts = campaign.counts()
    done = counts["sent"] + counts["failed"]
    total = counts["recipients"]
    if total:
        percent = int(100 * done / total)
    else:
        percent = 100 if campaign.status == Campaign.Status.SENT else 0

    def shown(moment):
        return date_format(local(moment), "j M Y, H:i:s") if moment else "—"

    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "status_class": STATUS_CLASSES.get(campaign.status, ""),
        "actions": campaigns.available_actions(campaign),
        **counts,
        "percent": percent,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "started_label": shown(campaign.started_at),
        "finished_label": shown(campaign.finished_at),
    }


def campaign_view(request, campaign_id):
    campaign = get_object_or_404(
        Campaign.objects.select_related("page", "created_by").prefetch_related("lists"),
        pk=campaign_id,
    )
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    title = campaign_title(campaign)
    allowed = can_send(request.user)
    return render(
        request,
        "mailing/campaigns/detail.html",
        {
            "campaign": campaign,
            "progress": progress(campaign),
            "progress_url": reverse("mailing_campaign_progress", args=[campaign.pk]),
            "events": [
                (DeliveryEvent.Kind(kind).label, count)
                for kind, count in campaign.event_counts().items()
            ],
            "chart": chart(campaign),
            "estimated_recipients": (
                campaigns.count_recipients(campaign.lists.all())
                if campaign.status in (Status.DRAFT, Status.SCHEDULED)
                and not campaign.recipients_count
                else None
            ),
            "can_send": allowed,
            "actions": campaigns.available_actions(campaign) if allowed else [],
            "status_class": STATUS_CLASSES.get(campaign.status, ""),
            "time_zone": timezone.get_current_timezone_name(),
            "web_url": message.web_url(campaign),
            "issue_url": reverse("wagtailadmin_pages:edit", args=[campaign.page_id]),
            "header_title": title,
            "header_icon": "mail",
            "breadcrumbs_items": [
                home_crumb(),
                campaigns_crumb(),
                {"url": "", "label": title},
            ],
        },
    )


def progress_view(request, campaign_id):
    campaign = get_object_or_404(Campaign.objects.select_related("page"), pk=campaign_id)
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    data = progress(campaign)
    if not can_send(request.user):
        data["actions"] = []
    if request.GET.get("chart"):
        data["chart_html"] = render_to_string(
            "mailing/campaigns/_chart.html",
            {"chart": chart(campaign), "time_zone": timezone.get_current_timezone_name()},
            request=request,
        )
    return JsonResponse(data)


@require_POST
def action_view(request, campaign_id, action):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not can_send(request.user):
        raise PermissionDenied
    if action not in campaigns.ACTIONS:
        raise Http404
    done = campaigns.perform(campaign, action)
    if done:
        messages.success(
            request, _("Campaign: %(status)s.") % {"status": campaign.get_status_display()}
        )
    else:
        messages.warning(request, _("Not possible in the campaign's current state."))
    return redirect("mailing_campaign", campaign.pk)


def index_view(request):
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    listed = (
        Campaign.objects.select_related("page")
        .prefetch_related(Prefetch("lists", queryset=MailingList.objects.order_by("name")))
        .annotate(
            sent=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)),
            failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
        )
        .order_by("-created_at", "-pk")
    )
    paginator = Paginator(listed, PER_PAGE)
    page = paginator.get_page(request.GET.get("p"))
    for campaign in page:
        campaign.status_class = STATUS_CLASSES.get(campaign.status, "")
    return render(
        request,
        "mailing/campaigns/index.html",
        {
            "campaigns": page,
            "page_obj": page,
            "elided_page_range": paginator.get_elided_page_range(page.number),
            "time_zone": timezone.get_current_timezone_name(),
            "header_title": _("Campaigns"),
            "header_icon": "mail",
            "breadcrumbs_items": [home_crumb(), {"url": "", "label": _("Campaigns")}],
        },
    )


def urls():
    return [
        path("campaigns/", index_view, name="mailing_campaigns"),
        path("campaigns/send/<int:page_id>/", send_view, name="mailing_campaign_send"),
        path("campaigns/recipients/", count_view, name="mailing_campaign_count"),
        path("campaigns/<int:campaign_id>/", campaign_view, name="mailing_campaign"),
        path(
            "campaigns/<int:campaign_id>/progress/",
            progress_view,
            name="mailing_campaign_progress",
        ),
        path(
            "campaigns/<int:campaign_id>/<str:action>/",
            action_view,
            name="mailing_campaign_action",
        ),
    ]


def _send_button(page, user, priority):
    if isinstance(page.specific_deferred, NewsletterPage) and can_test(user, page):
        yield Button(
            _("Send or schedule…"),
            reverse("mailing_campaign_send", args=[page.pk]),
            icon_name="mail",
            priority=priority,
        )


def header_button(page, user, view_name=None, next_url=None):
    yield from _send_button(page, user, 5)


def listing_button(page, user, next_url=None):
    yield from _send_button(page, user, 5)


def menu_item():
    return MenuItem(
        gettext_lazy("Campaigns"), reverse("mailing_campaigns"), icon_name="mail", order=310
    )
