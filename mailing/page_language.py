"""The language of the hosted subscriber pages.

A page is shown in the language the reader picked with the switcher (``?lang=``), else
the subscriber's own language (pages reached by a token), else the browser's
(``Accept-Language``), else the site's default. Only codes of ``LANGUAGES`` are ever
activated: whatever else arrives in ``?lang=`` is ignored.
"""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.utils import translation
from django.utils.cache import patch_vary_headers

from mailing.subscriptions import language_code

PARAM = "lang"
#: Longer than any language tag: anything longer is not a choice, not even a regional one.
_MAX_PARAM = 35


def language_name(code: str) -> str:
    """A language in its own words, capitalised for a menu: “Français”, “Deutsch”."""
    name = LANG_INFO.get(code, {}).get("name_local") or dict(settings.LANGUAGES).get(code, code)
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    """``LANGUAGES`` with each language named in its own words (readers look for theirs)."""
    return [(code, language_name(code)) for code, _name in settings.LANGUAGES]


def requested(request) -> str:
    """The LANGUAGES code the reader chose with ``?lang=``; "" when none or not a valid one."""
    value = request.GET.get(PARAM, "")
    if not value or len(value) > _MAX_PARAM:
        return ""
    return language_code(value) or ""


def from_browser(request) -> str:
    """Accept-Language matched against LANGUAGES, else the default language."""
    return translation.get_language_from_request(request)


def for_request(request, subscriber=None) -> str:
    """The language to show a page in: ``?lang=``, the subscriber's, else the browser's."""
    own = language_code(subscriber.language) if subscriber is not None else ""
    return requested(request) or own or from_browser(request)


def activate_for(request, subscriber) -> str:
    """Switch the current request (inside ``hosted``) to the subscriber's page language."""
    language = for_request(request, subscriber)
    translation.activate(language)
    return language


def keep_choice(request, url: str) -> str:
    """``url`` carrying the reader's explicit ``?lang=`` along, so that the next page of
    the journey stays in the language they chose."""
    chosen = requested(request)
    if not chosen:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({PARAM: chosen})}"


def switcher() -> list[dict]:
    """Links showing the same page in each enabled language (one GET, no state changed)."""
    if len(settings.LANGUAGES) < 2:
        return []
    current = translation.get_language()
    return [
        {
            "code": code,
            "name": name,
            # Relative to the page itself: the address (a token) is not written out again.
            "url": f"?{urlencode({PARAM: code})}",
            "current": code == current,
        }
        for code, name in language_choices()
    ]


def hosted(view):
    """Run a view in the browser's (or the ``?lang=``) language; views reached by a token
    switch to the subscriber's with ``activate_for``. The answer says which language it
    is in and that it depends on Accept-Language (for caches)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with translation.override(for_request(request)):
            response = view(request, *args, **kwargs)
            response.headers.setdefault("Content-Language", translation.get_language())
        patch_vary_headers(response, ("Accept-Language",))
        return response

    return wrapper
