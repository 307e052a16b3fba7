"""The click-tracking redirect and the open pixel: verify the token, queue the hit, answer.

Neither touches the database once a process knows the link (``links.target_of``): the
hit goes to ``mailing.hits``' queue and is stored in batches.
"""

import base64
import logging

from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from mailing import hits, links
from mailing.views import client_ip

logger = logging.getLogger(__name__)

# The smallest transparent GIF (1×1).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = "no-store, private, max-age=0"


def _not_found():
    response = HttpResponse("Unknown link.", status=404, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = NO_STORE
    return response


def _queue(kind, delivery_id, link_id=0):
    try:
        hits.record(kind, delivery_id, link_id)
    except Exception:  # noqa: BLE001 - a full disk or a Redis outage must not break the link
        logger.exception("could not queue a tracked %s", kind)


@require_safe
def click(request, token):
    """302 to the link the token was signed for; 404 for anything we did not sign."""
    parsed = links.read_click_token(token)
    target = links.target_of(parsed[1]) if parsed else None
    if not target:
        return _not_found()
    # Mail security scanners probe links with HEAD: only a GET is a click.
    if request.method == "GET":
        _queue(hits.CLICK, parsed[0], parsed[1])
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = NO_STORE
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_safe
def open_pixel(request, token):
    delivery_id = links.read_open_token(token)
    if delivery_id is None:
        return _not_found()
    if request.method == "GET":
        machine = hits.is_machine_open(request.META.get("HTTP_USER_AGENT", ""), client_ip(request))
        _queue(hits.MACHINE_OPEN if machine else hits.OPEN, delivery_id)
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = NO_STORE
    return response
