"""Thin HTTP layer over ``mailing.subscriptions``: the signup API, the hosted pages and
their JSON twins, and the web copy of sent campaigns. Tokens authenticate every
subscriber action; a bad token gets the same 404 whatever was wrong with it.
"""

import hashlib
import ipaddress
import json
import unicodedata
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import (
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
    UnreadablePostError,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render as django_render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from wagtail.models import Revision

from mailing import hits, page_language, signup, subscriptions, tokens, variants
from mailing.forms import MAX_LISTS, PreferencesForm, SignupForm, is_text
from mailing.models import Campaign, MailingList, Subscriber, Subscription
from mailing.sending.message import personal_values, web_copy
from mailing.sending.proof import read_test_copy_token, test_link_url
from mailing.topics import MAX_TOPICS, clean_topics, topic_choices
from newsletters.rendering import personalise, render_email

ACCEPTED = {
    "status": "accepted",
    "detail": gettext_lazy(
        "Thank you. If this address can receive our emails, a message to confirm "
        "the subscription is on its way."
    ),
}
#: A signup or a preferences change is a few hundred bytes; refuse far more unread.
MAX_BODY = 64 * 1024


class BadLink(Exception):
    pass


class BadBody(Exception):
    """A request body that cannot be read as the fields it should hold."""

    def __init__(self, detail: str, status: int = 400):
        super().__init__(detail)
        self.detail, self.status = detail, status

    def response(self):
        return JsonResponse({"status": "invalid", "detail": self.detail}, status=self.status)


def render(request, template_name, context=None, status=200):
    """Hosted pages carry the newsletter's sender name, postal address and website, and
    the language switcher."""
    context = {
        "sender_name": settings.NEWSLETTER_SENDER_NAME,
        "postal_address": settings.NEWSLETTER_POSTAL_ADDRESS,
        "website_url": settings.FRONTEND_URL,
        "languages": page_language.switcher(),
        **(context or {}),
    }
    return django_render(request, template_name, context, status=status)


def client_ip(request) -> str | None:
    """The caller's IP address; None when the configured header holds anything else."""
    value = request.META.get(settings.SUBSCRIPTION_CLIENT_IP_HEADER) or request.META.get(
        "REMOTE_ADDR"
    )
    try:
        return str(ipaddress.ip_address(value.split(",")[0].strip())) if value else None
    except ValueError:
        return None


def hit_limit(scope: str, key: str, limit: int) -> bool:
    """Count one hit in a fixed window; True when over ``limit``."""
    cache_key = f"mailing:rate:{scope}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    window = settings.SUBSCRIPTION_RATE_WINDOW
    if cache.add(cache_key, 1, window):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, window)
        return False


def _read_body(request) -> dict:
    """The JSON object or the form fields of a POST; BadBody for anything else."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise BadBody(_("The request body is too large."), status=413)
    try:
        if request.content_type == "application/json":
            return _json_object(request.body)
        data = {key: request.POST.get(key) for key in request.POST}
        if "lists" in request.POST:
            data["lists"] = request.POST.getlist("lists")
        return data
    except (SuspiciousOperation, MultiPartParserError, UnreadablePostError) as exc:
        # Too big (without a Content-Length), too many fields, a broken multipart body.
        raise BadBody(_("The request body cannot be read.")) from exc


def _json_object(body: bytes) -> dict:
    if len(body) > MAX_BODY:
        raise BadBody(_("The request body is too large."), status=413)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:  # also bad UTF-8, huge integers, deep nesting
        raise BadBody(_("The request body is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise BadBody(_("Send a JSON object."))
    return data


def _invalid(errors: dict, status: int = 400):
    return JsonResponse(
        {"status": "invalid", "detail": _("Please correct the fields named."), "errors": errors},
        status=status,
    )


def api_methods(*methods):
    """Like ``require_http_methods``, with a JSON answer for the other methods."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse(
                    {
                        "status": "method_not_allowed",
                        "detail": _("Use %(methods)s.") % {"methods": " or ".join(methods)},
                    },
                    status=405,
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- signup ---------------------------------------------------------------------------


@csrf_exempt
@api_methods("GET", "POST")
@page_language.hosted
def signup_api(request):
    """POST /api/subscriptions/: 202 with one body whatever the address's state.

    The request validates and counts the IP address; all that depends on the address
    happens in the worker (``mailing.signup``), so neither the answer nor its timing
    tells whether someone is subscribed. GET lists the public lists, for sites that
    build their signup form from them.
    """
    if request.method == "GET":
        lists = MailingList.objects.filter(is_public=True).order_by("name")
        return JsonResponse(
            {
                "lists": [
                    {"slug": m.slug, "name": m.name, "description": m.description} for m in lists
                ],
                "topics": [{"slug": slug, "name": name} for slug, name in topic_choices()],
            }
        )
    ip = client_ip(request)
    if ip and hit_limit("ip", ip, settings.SUBSCRIPTION_RATE_PER_IP):
        response = JsonResponse(
            {"status": "rate_limited", "detail": _("Too many requests; try again later.")},
            status=429,
        )
        response["Retry-After"] = str(settings.SUBSCRIPTION_RATE_WINDOW)
        return response
    try:
        form = SignupForm(_read_body(request))
    except BadBody as exc:
        return exc.response()
    if form.is_bot():
        return JsonResponse(ACCEPTED, status=202)
    if not form.is_valid():
        return _invalid(
            {
                name: [e["message"] for e in errs]
                for name, errs in form.errors.get_json_data().items()
            }
        )
    signup.queue_signup(
        email=form.typed_email,
        lists=form.cleaned_data["lists"],
        name=form.cleaned_data["name"],
        language=form.cleaned_data["language"],
        consent_text=form.cleaned_data["consent"],
        source=_signup_source(request),
        ip_address=ip,
        topics=form.cleaned_data["topics"],
    )
    return JsonResponse(ACCEPTED, status=202)


def _signup_source(request) -> str:
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    # Headers may carry bytes no database column should hold (NUL, for one).
    origin = "".join(c for c in origin if unicodedata.category(c) != "Cc")
    return f"signup: {origin}"[:100] if origin else "signup"


# --- token helpers ----------------------------------------------------------------------


def _from_token(purpose: str, token: str) -> tuple[Subscriber, MailingList | None]:
    try:
        subscriber_id, list_id = tokens.read_token(purpose, token)
    except tokens.InvalidToken as exc:
        raise BadLink from exc
    subscriber = Subscriber.objects.reachable().filter(pk=subscriber_id).first()
    if subscriber is None:
        raise BadLink
    mailing_list = None
    if list_id is not None:
        mailing_list = MailingList.objects.filter(pk=list_id).first()
        if mailing_list is None:
            raise BadLink
    return subscriber, mailing_list


def _bad_link_page(request):
    return render(request, "mailing/invalid_link.html", status=404)


def _bad_link_json():
    return JsonResponse(
        {
            "status": "invalid_link",
            "detail": _("This link does not work: it is incomplete, expired or unknown."),
        },
        status=404,
    )


def _message(request, title, text, *, links=(), status=200):
    return render(
        request,
        "mailing/message.html",
        {"title": title, "text": text, "links": links},
        status=status,
    )


# --- hosted pages ------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@page_language.hosted
def confirm_page(request, token):
    """GET shows a button (link scanners must not confirm for people); POST confirms."""
    try:
        subscriber, mailing_list = _from_token(tokens.CONFIRM, token)
    except BadLink:
        return _bad_link_page(request)
    page_language.activate_for(request, subscriber)
    pending = Subscription.objects.filter(
        subscriber=subscriber, status=Subscription.Status.PENDING
    ).select_related("mailing_list")
    if mailing_list is not None:
        pending = pending.filter(mailing_list=mailing_list)
    preferences = (
        _("Manage your subscriptions"),
        page_language.keep_choice(request, tokens.preferences_url(subscriber.pk)),
    )
    if request.method == "POST":
        subscriptions.confirm(subscriber, mailing_list, ip_address=client_ip(request))
        return _message(
            request,
            _("You are subscribed"),
            _("Thank you for confirming. Our next email will reach you at this address."),
            links=[preferences],
        )
    pending = list(pending)
    if not pending:
        return _message(
            request,
            _("Nothing left to confirm"),
            _("This subscription is already confirmed, or was cancelled since."),
            links=[preferences],
        )
    return render(request, "mailing/confirm.html", {"subscriptions": pending})


@csrf_exempt  # RFC 8058: mail providers POST without a CSRF token; the token authenticates
@never_cache
@require_http_methods(["GET", "POST"])
@page_language.hosted
def unsubscribe_page(request, token):
    """GET asks; POST unsubscribes, including the RFC 8058 one-click POST."""
    try:
        subscriber, mailing_list = _from_token(tokens.UNSUBSCRIBE, token)
    except BadLink:
        if request.method == "POST" and _is_one_click(request):
            return HttpResponse("Invalid link.", status=404, content_type="text/plain")
        return _bad_link_page(request)
    page_language.activate_for(request, subscriber)
    preferences_url = page_language.keep_choice(request, tokens.preferences_url(subscriber.pk))
    if request.method == "POST":
        one_click = _is_one_click(request)
        changed = subscriptions.unsubscribe(
            subscriber,
            mailing_list,
            source="one-click" if one_click else "unsubscribe page",
            ip_address=client_ip(request),
        )
        if changed:
            hits.credit_unsubscribe(tokens.read_delivery(tokens.UNSUBSCRIBE, token), subscriber.pk)
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return _message(
            request,
            _("You are unsubscribed"),
            _("You will receive no more emails from %(what)s.")
            % {"what": mailing_list.name if mailing_list else _("any of our lists")},
            links=[(_("Changed your mind? Manage your subscriptions"), preferences_url)],
        )
    return render(
        request,
        "mailing/unsubscribe.html",
        {"mailing_list": mailing_list, "preferences_url": preferences_url},
    )


def _is_one_click(request) -> bool:
    return request.POST.get("List-Unsubscribe") == "One-Click"


@never_cache
@require_http_methods(["GET", "POST"])
@page_language.hosted
def preferences_page(request, token):
    try:
        subscriber, _list = _from_token(tokens.PREFERENCES, token)
    except BadLink:
        return _bad_link_page(request)
    page_language.activate_for(request, subscriber)
    choices = subscriptions.lists_for_preferences(subscriber)
    active = [m for m, status in choices if status in subscriptions.ACTIVE_STATUSES]
    initial = {
        "name": subscriber.name,
        "language": subscriber.language,
        "lists": [m.pk for m in active],
        "topics": subscriber.topics,
        "country": subscriber.country,
    }
    form = PreferencesForm(initial=initial, list_choices=[m for m, _status in choices])
    saved, status = False, 200
    if request.method == "POST":
        if request.POST.get("action") == "unsubscribe_all":
            back = page_language.keep_choice(request, request.path)
            subscriptions.unsubscribe(
                subscriber, source="preferences", ip_address=client_ip(request)
            )
            return _message(
                request,
                _("You are unsubscribed"),
                _("You will receive no more emails from any of our lists."),
                links=[(_("Back to your preferences"), back)],
            )
        form = PreferencesForm(request.POST, list_choices=[m for m, _status in choices])
        if form.is_valid():
            subscriptions.update_preferences(
                subscriber,
                lists=form.cleaned_data["lists"],
                name=form.cleaned_data["name"],
                language=form.cleaned_data["language"],
                ip_address=client_ip(request),
                topics=form.cleaned_data["topics"],
                country=form.cleaned_data["country"],
            )
            # The answer stays in the language the reader was reading; a new language for
            # the emails is the page's from their next visit.
            saved = True
            form = PreferencesForm(
                initial={
                    "name": subscriber.name,
                    "language": subscriber.language,
                    "lists": [m.pk for m in form.cleaned_data["lists"]],
                    "topics": subscriber.topics,
                    "country": subscriber.country,
                },
                list_choices=[m for m, _status in choices],
            )
        else:
            status = 400
    return render(
        request,
        "mailing/preferences.html",
        {
            "form": form,
            "saved": saved,
            "subscriber": subscriber,
            "data_url": request.path + "data/",
            "erase_url": page_language.keep_choice(request, request.path + "erase/"),
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET"])
@page_language.hosted
def preferences_data(request, token):
    """Download my data (JSON)."""
    try:
        subscriber, _list = _from_token(tokens.PREFERENCES, token)
    except BadLink:
        return _bad_link_page(request)
    response = JsonResponse(subscriptions.export_data(subscriber), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="my-subscription-data.json"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@page_language.hosted
def erase_page(request, token):
    try:
        subscriber, _list = _from_token(tokens.PREFERENCES, token)
    except BadLink:
        return _bad_link_page(request)
    page_language.activate_for(request, subscriber)
    if request.method == "POST":
        subscriptions.erase(subscriber, source="preferences")
        return _message(
            request,
            _("Your data is erased"),
            _(
                "We have removed your name, address and preferences. We keep only a "
                "one-way fingerprint of the address so that it is never mailed again."
            ),
        )
    return render(
        request,
        "mailing/erase.html",
        {
            "subscriber": subscriber,
            "preferences_url": page_language.keep_choice(request, request.path[: -len("erase/")]),
        },
    )


# --- the same actions as JSON, for sites that build their own pages -----------------------


def _json_token_view(purpose, *methods):
    def decorator(func):
        @csrf_exempt  # token-authenticated, no cookies involved
        @never_cache
        @api_methods(*methods)
        @page_language.hosted
        @wraps(func)
        def view(request, token):
            try:
                subscriber, mailing_list = _from_token(purpose, token)
            except BadLink:
                return _bad_link_json()
            return func(request, subscriber, mailing_list)

        return view

    return decorator


@_json_token_view(tokens.CONFIRM, "POST")
def confirm_api(request, subscriber, mailing_list):
    changed = subscriptions.confirm(subscriber, mailing_list, ip_address=client_ip(request))
    return JsonResponse({"status": "confirmed", "changed": changed})


@_json_token_view(tokens.UNSUBSCRIBE, "POST")
def unsubscribe_api(request, subscriber, mailing_list):
    changed = subscriptions.unsubscribe(
        subscriber, mailing_list, source="api", ip_address=client_ip(request)
    )
    return JsonResponse({"status": "unsubscribed", "changed": changed})


def _preferences_json(subscriber):
    return {
        "name": subscriber.name,
        "language": subscriber.language,
        "topics": subscriber.topics,
        "lists": [
            {
                "slug": m.slug,
                "name": m.name,
                "description": m.description,
                "status": status or "not_subscribed",
            }
            for m, status in subscriptions.lists_for_preferences(subscriber)
        ],
    }


@_json_token_view(tokens.PREFERENCES, "GET", "POST")
def preferences_api(request, subscriber, mailing_list):
    """GET the preferences; POST {name?, language?, lists?: [slug], topics?: [slug]} to
    change them."""
    if request.method == "POST":
        try:
            data = _read_body(request)
        except BadBody as exc:
            return exc.response()
        errors = {
            key: [_("Give this as text.")]
            for key in ("name", "language")
            if data.get(key) is not None and not is_text(data[key])
        }
        lists = None
        if "lists" in data:
            slugs = data["lists"]
            if (
                not isinstance(slugs, list)
                or len(slugs) > MAX_LISTS
                or not all(is_text(s) for s in slugs)
            ):
                return _invalid({"lists": [_("Give a list of list names (slugs).")]})
            allowed = {m.slug: m for m, _status in subscriptions.lists_for_preferences(subscriber)}
            unknown = sorted(set(slugs) - set(allowed))
            if unknown:
                named = ", ".join(unknown)[:500]
                errors["lists"] = [_("Unknown list: %(lists)s") % {"lists": named}]
            lists = [allowed[s] for s in slugs if s in allowed]
        topics = None
        if "topics" in data:
            chosen = data["topics"]
            if (
                not isinstance(chosen, list)
                or len(chosen) > MAX_TOPICS
                or not all(is_text(t) for t in chosen)
            ):
                return _invalid({"topics": [_("Give a list of topic names (slugs).")]})
            topics, unknown = clean_topics(chosen)
            if unknown:
                named = ", ".join(sorted(unknown))[:500]
                errors["topics"] = [_("Unknown topic: %(topics)s") % {"topics": named}]
        if errors:
            return _invalid(errors)
        try:
            subscriptions.update_preferences(
                subscriber,
                topics=topics,
                lists=lists,
                name=data.get("name"),
                language=data.get("language"),
                source="api",
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            field = "name" if exc.code == "name" else "language"
            return _invalid({field: exc.messages})
    return JsonResponse(_preferences_json(subscriber))


@_json_token_view(tokens.PREFERENCES, "GET")
def data_api(request, subscriber, mailing_list):
    return JsonResponse(subscriptions.export_data(subscriber))


@_json_token_view(tokens.PREFERENCES, "POST")
def erase_api(request, subscriber, mailing_list):
    subscriptions.erase(subscriber, source="api")
    return JsonResponse({"status": "erased"})


# --- "view in browser" and the links of test sends ---------------------------------------


@require_GET
@cache_control(public=True, max_age=300)
@page_language.hosted
def web_version(request, key: str):
    """The issue as it was sent to public lists, without personal data.

    ``key``: the campaign's random key (what emails link to). Older emails' campaign ids
    and issue slugs (the issue's latest public campaign) redirect to that address;
    neither ever finds a campaign of an internal list.
    """
    public = Campaign.objects.with_web_copy()
    campaign = Campaign.objects.filter(key=key).first()
    if campaign is not None:
        if not public.filter(pk=campaign.pk).exists():
            return _message(
                request,
                _("This issue has no web copy"),
                _("It went to a private list only: please read it in your inbox."),
                status=404,
            )
        shown = campaign
        language = page_language.requested(request)  # "" unless an enabled code
        if language and language != campaign.language:
            # The copy in the reader's language, as the email in it linked to.
            found = list(campaign.variants.filter(language=language).order_by("pk"))
            variant = next((v for v in found if not v.topics), found[0] if found else None)
            if variant is not None:
                shown = variants.as_campaign(campaign, variant)
        response = HttpResponse(web_copy(shown), content_type="text/html; charset=utf-8")
        response["X-Robots-Tag"] = "noindex"
        return response
    if key.isdigit() and len(key) < 12:
        campaign = public.filter(pk=int(key)).first()
    else:
        campaign = public.filter(page__slug=key).order_by("-started_at", "-pk").first()
    if campaign is None:
        raise Http404("No such newsletter")
    return HttpResponsePermanentRedirect(reverse("mailing:web_version", args=[campaign.key]))


TEST_LINKS = {
    "unsubscribe": gettext_lazy(
        "In a real issue this link unsubscribes the reader from the list. This was a test, "
        "so nothing has changed."
    ),
    "preferences": gettext_lazy(
        "In a real issue this link opens the reader's preference centre. This was a test, "
        "so there are no preferences to show."
    ),
}


@csrf_exempt  # the RFC 8058 one-click POST of a test's List-Unsubscribe: changes nothing
@never_cache
@require_http_methods(["GET", "POST"])
@page_language.hosted
def test_link(request, what: str):
    """Where the unsubscribe and preferences links of a test send lead."""
    if what not in TEST_LINKS:
        raise Http404("No such link")
    return _message(request, _("This was a test"), TEST_LINKS[what])


@require_GET
@never_cache
@page_language.hosted
def test_copy(request, token: str):
    """A test send's "view in browser" copy: the revision it showed, by a signed address."""
    revision = Revision.page_revisions.filter(pk=read_test_copy_token(token)).first()
    if revision is None:
        return _bad_link_page(request)
    issue = revision.as_object()
    values = personal_values(
        name="",
        email="",
        unsubscribe_url=test_link_url("unsubscribe"),
        preferences_url=test_link_url("preferences"),
        web_url=request.build_absolute_uri(),
    )
    # The chrome in the issue's own language, as its readers got it.
    issue_language = subscriptions.language_code(getattr(issue.locale, "language_code", ""))
    with translation.override(issue_language or translation.get_language()):
        html = personalise(render_email(issue).html, values, html=True)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["X-Robots-Tag"] = "noindex"
    return response
