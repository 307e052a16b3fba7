"""`/api/v2/page_preview/`: a draft's full representation, for a valid preview token only.

wagtail-headless-preview stores the draft (PagePreview) under a token it signs with a
timestamp; the token is checked here against PREVIEW_TOKEN_MAX_AGE, so a leaked preview
link stops working after an hour by default.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.signing import BadSignature, SignatureExpired
from django.urls import path
from wagtail.api.v2.views import BaseAPIViewSet
from wagtail.models import Page
from wagtail_headless_preview.models import HeadlessPreviewMixin, PagePreview

from cms.api.caching import json_response, never_cache_response
from cms.api.representation import Context, serialise_pages


class PagePreviewEndpoint(BaseAPIViewSet):
    name = "page_preview"
    authentication_classes = []
    permission_classes = []
    model = PagePreview

    def listing_view(self, request):
        return never_cache_response(self._preview(request))

    def _preview(self, request):
        token = request.GET.get("token", "")
        label = request.GET.get("content_type", "")
        if "\x00" in label or "\x00" in token:
            # PostgreSQL cannot compare text holding NUL.
            return json_response({"message": "content_type and token cannot hold NUL"}, 400)
        try:
            app_label, model_name = label.split(".")
            content_type = ContentType.objects.get_by_natural_key(app_label, model_name.lower())
        except (ValueError, ContentType.DoesNotExist):
            return json_response({"message": "content_type must be app_label.model"}, 400)
        model = content_type.model_class()
        if model is None or not issubclass(model, Page):
            return json_response({"message": "content_type is not a page type"}, 400)
        try:
            HeadlessPreviewMixin.get_preview_signer().unsign(
                token, max_age=settings.PREVIEW_TOKEN_MAX_AGE
            )
        except SignatureExpired:
            return json_response({"message": "preview token expired"}, 410)
        except BadSignature:
            return json_response({"message": "invalid preview token"}, 403)
        preview = PagePreview.objects.filter(token=token, content_type=content_type).first()
        if preview is None:
            return json_response({"message": "no preview for this token"}, 404)
        page = preview.as_page()
        return json_response(serialise_pages([page], Context(request, preview=True))[0])

    @classmethod
    def get_urlpatterns(cls):
        return [path("", cls.as_view({"get": "listing_view"}), name="listing")]
