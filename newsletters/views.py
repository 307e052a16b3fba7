"""'View in browser': the web copy of an issue as it was sent, without personal data."""

from django.http import Http404, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from mailing.models import Campaign
from mailing.sending.message import web_copy

SHOWN = [Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.SENT]


@require_GET
@cache_control(public=True, max_age=300)
def web_version(request, key: str):
    """``key``: a campaign id, or an issue's slug (its most recent campaign)."""
    campaigns = Campaign.objects.filter(status__in=SHOWN).exclude(html="")
    if key.isdigit():
        campaign = campaigns.filter(pk=int(key)).first()
    else:
        campaign = campaigns.filter(page__slug=key).order_by("-started_at").first()
    if campaign is None:
        raise Http404("No such newsletter")
    response = HttpResponse(web_copy(campaign), content_type="text/html; charset=utf-8")
    response["X-Robots-Tag"] = "noindex"
    return response
