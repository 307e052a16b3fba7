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

from mailing import campaigns, languages, links
from mailing.admin import reports
from mailing.admin.forms import SendForm
from mailing.admin.reports import local, snapshot
from mailing.models import Campaign, Delivery, DeliveryEvent, MailingList, Segment
from mailing.sending import message, proof
from newsletters.checks import check_issue
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email

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


def publication(page) -> str:
    """ "published", "changes" (published, with newer saved changes) or "unpublished"."""
    if not page.live:
        return "unpublished"
    return "changes" if page.has_unpublished_changes else "published"


def may_publish(page, user) -> bool:
    """Whether "publish and send" may be offered: the right to publish, no moderation."""
    return page.permissions_for_user(user).can_publish() and not page.workflow_in_progress


def when_label(moment) -> str:
    """A send time as the editor reads it, with the time zone."""
    return _("%(when)s (%(zone)s)") % {
        "when": date_format(local(moment), "j F Y, H:i"),
        "zone": timezone.get_current_timezone_name(),
    }


def send_view(request, page_id):
    page = get_object_or_404(NewsletterPage, pk=page_id).specific
    if not can_test(request.user, page):
        raise PermissionDenied
    allowed = can_send(request.user)
    action = "test" if "test" in request.POST else "send" if "send" in request.POST else ""
    draft = page.campaigns.filter(status=Status.DRAFT, created_by=request.user).first()
    initial = {"test_to": request.user.email}
    if draft is not None:
        initial.update(
            lists=list(draft.lists.all()), send_at=draft.send_at, segment=draft.segment_id
        )
    form = SendForm(
        request.POST or None, action=action, test_limit=proof.test_limit(), initial=initial
    )
    state = publication(page)
    if request.method == "POST" and form.is_valid():
        if action == "test":
            try:
                result = proof.send_test(page, form.cleaned_data["test_to"])
            except proof.TestSendError as exc:
                form.add_error("test_to", str(exc))
            else:
                text = (
                    _("Test of the latest draft sent to %(to)s.")
                    if result.draft
                    else _("Test sent to %(to)s.")
                )
                messages.success(request, text % {"to": ", ".join(form.cleaned_data["test_to"])})
                return redirect("mailing_campaign_send", page.pk)
        elif action == "send":
            if not allowed:
                raise PermissionDenied
            publish = state == "changes" and form.cleaned_data["version"] == SendForm.PUBLISH
            if state == "unpublished":
                form.add_error(None, str(campaigns.NotPublished(page)))
            elif publish and not may_publish(page, request.user):
                form.add_error(
                    "version",
                    _(
                        "You may not publish this issue: send the published version, or ask "
                        "someone who may publish it."
                    ),
                )
            else:
                campaign = campaigns.draft(
                    page,
                    form.cleaned_data["lists"],
                    send_at=form.cleaned_data["send_at"],
                    user=request.user,
                    segment=form.cleaned_data["segment"],
                )
                url = reverse("mailing_campaign_confirm", args=[campaign.pk])
                if publish:
                    url += f"?publish={page.latest_revision_id}"
                return redirect(url)
    recent = list(page.campaigns.exclude(status=Status.DRAFT).order_by("-created_at")[:10])
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
            "publication": state,
            "can_publish": may_publish(page, request.user),
            "earlier": campaigns.earlier_sends(page),
            "draft": draft,
            "campaigns": recent,
            "count_url": reverse("mailing_campaign_count") + f"?page={page.pk}",
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


def _to_publish(request, page):
    """The revision "publish and send" names (``?publish=``), while it is still the latest
    one and the editor may publish it; else None."""
    wanted = request.GET.get("publish", "")
    if not (wanted.isdigit() and page.live and page.has_unpublished_changes):
        return None
    if int(wanted) != page.latest_revision_id or not may_publish(page, request.user):
        return None
    return page.latest_revision


def confirm_view(request, campaign_id):
    """The last screen before a list: what goes, to whom, when, and what is still open."""
    campaign = get_object_or_404(
        Campaign.objects.select_related("page", "segment").prefetch_related("lists"),
        pk=campaign_id,
    )
    if not can_send(request.user):
        raise PermissionDenied
    page = campaign.page.specific
    send_url = reverse("mailing_campaign_send", args=[page.pk])
    if campaign.status != Status.DRAFT:
        messages.info(request, _("This campaign was confirmed already."))
        return redirect("mailing_campaign", campaign.pk)
    if request.method == "POST" and "discard" in request.POST:
        campaign.delete()
        messages.info(request, _("Nothing was sent: the campaign is discarded."))
        return redirect(send_url)
    to_publish = _to_publish(request, page)
    try:
        revision, issue = (
            (to_publish, to_publish.as_object()) if to_publish else campaigns.published(page)
        )
    except campaigns.NotPublished as exc:
        messages.error(request, str(exc))
        return redirect(send_url)
    rendered = render_email(issue)
    checks = check_issue(issue, rendered)
    lists = list(campaign.lists.all())
    earlier = campaigns.earlier_sends(page, lists)
    shown_revision = str(revision.pk if revision else "")
    if request.method == "POST" and "confirm" in request.POST:
        if request.POST.get("revision", "") != shown_revision:
            messages.warning(
                request, _("The issue changed since this screen was shown: check it again.")
            )
        elif any(check.blocks_sending for check in checks):
            messages.error(request, _("Fix the errors below before sending."))
        else:
            exclude = bool(earlier) and request.POST.get("recipients") != "all"
            if "utm_shown" in request.POST:
                campaign.utm = "utm" in request.POST
                Campaign.objects.filter(pk=campaign.pk).update(utm=campaign.utm)
            try:
                with transaction.atomic():
                    if to_publish is not None:
                        to_publish.publish(user=request.user)
                    campaigns.schedule(campaign, exclude_received=exclude)
            except campaigns.NotPublished as exc:
                messages.error(request, str(exc))
                return redirect(send_url)
            if campaign.send_at > timezone.now():
                messages.success(
                    request, _("Scheduled for %(when)s.") % {"when": when_label(campaign.send_at)}
                )
            else:
                messages.success(request, _("Sending started."))
            return redirect("mailing_campaign", campaign.pk)
    shares = languages.audience(campaigns.recipients(lists, segment=campaign.segment), issue, lists)
    title = _("Confirm the send of “%(title)s”") % {"title": page.title}
    return render(
        request,
        "mailing/campaigns/confirm.html",
        {
            "campaign": campaign,
            "page": page,
            "issue": issue,
            "lists": lists,
            "revision": shown_revision,
            "publishing": to_publish is not None,
            "checks": checks,
            "blocked": any(check.blocks_sending for check in checks),
            "segment": campaign.segment,
            "recipients": campaigns.count_recipients(lists, segment=campaign.segment),
            "languages": shares,
            "untranslated": [share for share in shares if not share.translated],
            "new_recipients": campaigns.count_recipients(
                lists, exclude_received_of=page.pk, segment=campaign.segment
            )
            if earlier
            else None,
            "earlier": earlier,
            "tracks_clicks": links.tracking_for(lists)[0],
            "tracks_opens": links.tracking_for(lists)[1],
            "when": when_label(campaign.send_at) if campaign.send_at else "",
            "send_url": send_url,
            "header_title": title,
            "header_icon": "mail",
            "breadcrumbs_items": [
                home_crumb(),
                campaigns_crumb(),
                {"url": reverse("wagtailadmin_pages:edit", args=[page.pk]), "label": page.title},
                {"url": send_url, "label": _("Send or schedule")},
                {"url": "", "label": _("Confirm")},
            ],
        },
    )


def count_view(request):
    """Recipients of the chosen lists after deduplication and suppressions; with ``page``,
    also how many of them an earlier campaign of that issue reached."""
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    ids = [int(i) for i in request.GET.getlist("lists") if i.isdigit() and len(i) < 12]
    lists = MailingList.objects.filter(pk__in=ids)
    wanted = request.GET.get("segment", "")
    segment = (
        Segment.objects.filter(pk=int(wanted)).first()
        if wanted.isdigit() and len(wanted) < 12
        else None
    )
    everyone = campaigns.count_recipients(lists, segment=segment) if ids else 0
    data = {"recipients": everyone}
    page = request.GET.get("page", "")
    if page.isdigit() and len(page) < 12:
        new = (
            campaigns.count_recipients(lists, exclude_received_of=int(page), segment=segment)
            if ids
            else 0
        )
        data["received"] = everyone - new
    return JsonResponse(data)


def progress(campaign: Campaign) -> dict:
    """The campaign's state for the page and its poll, from one ``snapshot`` (with its
    ``chart`` and ``events`` for the page to show)."""
    taken = snapshot(campaign)
    counts = taken["counts"]
    done = counts["sent"] + counts["failed"]
    total = counts["recipients"]
    if total:
        percent = min(100, int(100 * done / total))
    else:
        percent = 100 if campaign.status == Campaign.Status.SENT else 0

    def shown(moment):
        return date_format(local(moment), "j M Y, H:i:s") if moment else "—"

    data = {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "status_class": STATUS_CLASSES.get(campaign.status, ""),
        "actions": campaigns.available_actions(campaign),
        **counts,
        **{f"event_{kind}": n for kind, n in taken["events"].items()},
        "percent": percent,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "started_label": shown(campaign.started_at),
        "finished_label": shown(campaign.finished_at),
    }
    data["chart"], data["events"] = taken["chart"], taken["events"]
    return data


def campaign_view(request, campaign_id):
    campaign = get_object_or_404(
        Campaign.objects.select_related("page", "created_by", "segment").prefetch_related("lists"),
        pk=campaign_id,
    )
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    title = campaign_title(campaign)
    allowed = can_send(request.user)
    engagement = reports.figures(campaign)
    state = progress(campaign)
    return render(
        request,
        "mailing/campaigns/detail.html",
        {
            "campaign": campaign,
            "progress": state,
            "progress_url": reverse("mailing_campaign_progress", args=[campaign.pk]),
            "events": [
                (kind, DeliveryEvent.Kind(kind).label, count)
                for kind, count in state["events"].items()
            ],
            "chart": state["chart"],
            "figures": engagement,
            "figure_sources": reports.sources(campaign),
            "link_rows": reports.link_rows(campaign),
            "language_rows": reports.language_rows(campaign),
            "page_rows": reports.page_rows(campaign),
            "estimated_recipients": (
                campaigns.count_recipients(campaign.lists.all(), segment=campaign.segment)
                if campaign.status in (Status.DRAFT, Status.SCHEDULED)
                and not campaign.recipients_count
                else None
            ),
            "can_send": allowed,
            "actions": campaigns.available_actions(campaign) if allowed else [],
            "status_class": STATUS_CLASSES.get(campaign.status, ""),
            "time_zone": timezone.get_current_timezone_name(),
            "has_web_copy": campaign.has_web_copy(),
            "web_url": message.web_url(campaign),
            "confirm_url": reverse("mailing_campaign_confirm", args=[campaign.pk]),
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
    """The campaign page's poll: counters, report and chart from one snapshot."""
    campaign = get_object_or_404(Campaign.objects.select_related("page"), pk=campaign_id)
    if not can_test(request.user, campaign.page):
        raise PermissionDenied
    data = progress(campaign)
    if not can_send(request.user):
        data["actions"] = []
    data["chart_html"] = render_to_string(
        "mailing/campaigns/_chart.html",
        {"chart": data.pop("chart"), "time_zone": timezone.get_current_timezone_name()},
        request=request,
    )
    del data["events"]
    return JsonResponse(data)


# What the editor is told once an action happened.
ACTION_DONE = {
    "pause": gettext_lazy("Sending paused: nothing more goes out until you resume."),
    "resume": gettext_lazy("Sending resumed."),
    "cancel": gettext_lazy("Campaign cancelled: nobody else will receive it."),
}


@require_POST
def action_view(request, campaign_id, action):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not can_send(request.user):
        raise PermissionDenied
    if action not in campaigns.ACTIONS:
        raise Http404
    if campaigns.perform(campaign, action):
        messages.success(request, ACTION_DONE[action])
    else:
        messages.warning(
            request,
            _("Not possible now: the campaign is %(status)s.")
            % {"status": campaign.get_status_display().lower()},
        )
    return redirect("mailing_campaign", campaign.pk)


def index_view(request):
    if not request.user.has_perm("wagtailadmin.access_admin"):
        raise PermissionDenied
    listed = (
        # Welcome emails are one campaign per new subscriber: the list's own history.
        Campaign.objects.filter(kind=Campaign.Kind.ISSUE)
        .select_related("page")
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
        path("campaigns/<int:campaign_id>/confirm/", confirm_view, name="mailing_campaign_confirm"),
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
