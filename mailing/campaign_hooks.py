"""Wagtail admin: send or schedule an issue, follow a campaign, read its report.

Everyone who may edit an issue may send it as a test to chosen addresses; only users
with ``mailing.send_campaign`` (the "Newsletter senders" group) may send to lists.
"""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.widgets import AdminDateTimeInput, Button

from mailing import sending
from mailing.models import Campaign, Delivery, DeliveryEvent, MailingList
from newsletters.models import NewsletterPage

SEND_PERMISSION = "mailing.send_campaign"


def can_send(user) -> bool:
    return user.has_perm(SEND_PERMISSION)


def can_test(user, page) -> bool:
    return can_send(user) or page.permissions_for_user(user).can_edit()


class SendForm(forms.Form):
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=gettext_lazy("Lists"),
    )
    send_at = forms.DateTimeField(
        required=False,
        widget=AdminDateTimeInput,
        label=gettext_lazy("Send at"),
        help_text=gettext_lazy("Leave empty to send now."),
    )
    test_to = forms.CharField(
        required=False,
        label=gettext_lazy("Send a test to"),
        help_text=gettext_lazy("Addresses separated by commas."),
    )

    def clean_test_to(self):
        addresses = [a.strip() for a in self.cleaned_data["test_to"].split(",") if a.strip()]
        for address in addresses:
            validate_email(address)
        return addresses


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
                sent = sending.send_test(page, addresses)
                messages.success(request, _("Test sent to %(n)s address(es).") % {"n": sent})
                return redirect("mailing_campaign_send", page.pk)
        else:
            if not allowed:
                raise PermissionDenied
            lists = form.cleaned_data["lists"]
            if not lists:
                form.add_error("lists", _("Choose at least one list."))
            else:
                with transaction.atomic():
                    campaign = sending.create_campaign(
                        page, lists, send_at=form.cleaned_data["send_at"], user=request.user
                    )
                messages.success(request, _("Campaign scheduled."))
                return redirect("mailing_campaign", campaign.pk)
    return render(
        request,
        "mailing/campaigns/send.html",
        {
            "page": page,
            "form": form,
            "can_send": allowed,
            "campaigns": page.campaigns.order_by("-created_at")[:10],
            "count_url": reverse("mailing_campaign_count"),
        },
    )


def count_view(request):
    """Recipients of the chosen lists after deduplication and suppressions."""
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    ids = [int(i) for i in request.GET.getlist("lists") if i.isdigit()]
    lists = MailingList.objects.filter(pk__in=ids)
    return JsonResponse({"recipients": sending.count_recipients(lists) if ids else 0})


def progress(campaign: Campaign) -> dict:
    counts = campaign.counts()
    done = counts["sent"] + counts["failed"]
    total = counts["recipients"]
    if total:
        percent = int(100 * done / total)
    else:
        percent = 100 if campaign.status == Campaign.Status.SENT else 0
    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        **counts,
        "percent": percent,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }


def campaign_view(request, campaign_id):
    campaign = get_object_or_404(Campaign.objects.select_related("page"), pk=campaign_id)
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    return render(
        request,
        "mailing/campaigns/detail.html",
        {
            "campaign": campaign,
            "progress": progress(campaign),
            "progress_url": reverse("mailing_campaign_progress", args=[campaign.pk]),
            "events": campaign.event_counts(),
            "chart": chart(campaign),
            "can_send": can_send(request.user),
            "web_url": sending.web_url(campaign),
        },
    )


def progress_view(request, campaign_id):
    campaign = get_object_or_404(Campaign.objects.select_related("page"), pk=campaign_id)
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    return JsonResponse(progress(campaign))


@require_POST
def action_view(request, campaign_id, action):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not can_send(request.user):
        raise PermissionDenied
    actions = {"pause": sending.pause, "resume": sending.resume, "cancel": sending.cancel}
    if action not in actions:
        raise Http404
    done = actions[action](campaign)
    if done:
        messages.success(request, _("Campaign: %(status)s.") % {"status": campaign.status})
    else:
        messages.warning(request, _("Not possible in the campaign's current state."))
    return redirect("mailing_campaign", campaign.pk)


def index_view(request):
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    campaigns = Campaign.objects.select_related("page").order_by("-created_at")[:100]
    return render(request, "mailing/campaigns/index.html", {"campaigns": campaigns})


def chart(campaign: Campaign, width=640, height=160) -> dict:
    """Cumulative sends and events per minute, as SVG polylines."""
    series = {
        "sent": list(
            campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__isnull=False)
            .annotate(t=TruncMinute("sent_at"))
            .values_list("t")
            .annotate(n=Count("id"))
            .order_by("t")
        )
    }
    for kind in ("opened", "clicked", "bounced"):
        series[kind] = list(
            DeliveryEvent.objects.filter(delivery__campaign=campaign, kind=kind)
            .annotate(t=TruncMinute("occurred_at"))
            .values_list("t")
            .annotate(n=Count("id"))
            .order_by("t")
        )
    moments = [t for rows in series.values() for t, _ in rows]
    if not moments:
        return {}
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 60)
    top = max(sum(n for _, n in rows) for rows in series.values()) or 1
    lines = []
    for kind, rows in series.items():
        total, points = 0, []
        for t, n in rows:
            total += n
            x = round((t - start).total_seconds() / span * width, 1)
            points.append(f"{x},{round(height - total / top * height, 1)}")
        if points:
            lines.append({"kind": kind, "points": " ".join(points), "total": total})
    return {
        "width": width,
        "height": height,
        "lines": lines,
        "start": timezone.localtime(start),
        "end": timezone.localtime(end),
        "json": json.dumps([line["kind"] for line in lines]),
    }


@hooks.register("register_admin_urls")
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


@hooks.register("register_page_header_buttons")
def header_button(page, user, view_name=None, next_url=None):
    yield from _send_button(page, user, 5)


@hooks.register("register_page_listing_more_buttons")
def listing_button(page, user, next_url=None):
    yield from _send_button(page, user, 5)


@hooks.register("register_admin_menu_item")
def menu_item():
    return MenuItem(
        gettext_lazy("Campaigns"), reverse("mailing_campaigns"), icon_name="mail", order=310
    )
