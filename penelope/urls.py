from django.conf import settings
from django.http import FileResponse, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms.api.calendar import upcoming_events_ics
from cms.api.router import api_router
from cms.media import serve_media

OPENAPI = settings.BASE_DIR / "docs" / "openapi.yaml"


@cache_control(public=True, max_age=3600)
def openapi(request):
    """The public HTTP API described (OpenAPI 3.1): content, preview, calendar, signup."""
    return FileResponse(OPENAPI.open("rb"), content_type="application/yaml; charset=utf-8")


def api_not_found(request, path=""):
    """Any other address under /api/ answers in JSON too, not with a site page."""
    return JsonResponse({"message": "not found"}, status=404)


urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("api/v2/", api_router.urls),
    path("api/events.ics", upcoming_events_ics, name="events-ics"),
    path("api/openapi.yaml", openapi, name="openapi"),
    path("", include("mailing.urls")),
    path("anymail/", include("anymail.urls")),
    re_path(r"^api/(?P<path>.*)$", api_not_found),
]

# Images are served by the application, each checked against its collection's privacy;
# documents only through `documents/` above. A front server may take over `media/` only
# where no collection is restricted (see the README).
urlpatterns += [
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_media, name="media"),
]

urlpatterns += [path("", include(wagtail_urls))]
