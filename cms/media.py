"""`/media/…`: image files, served only when their collection allows it.

Only images and their renditions are served from MEDIA_ROOT. Documents never are:
their links go through Wagtail's document view (`/documents/<id>/<name>`,
WAGTAILDOCS_SERVE_METHOD = "serve_view"), which enforces the collection's privacy,
and anything else under MEDIA_ROOT is not public either. A file of a restricted
collection answers 404 to those without the right, as if it did not exist.
"""

from __future__ import annotations

import posixpath

from django.conf import settings
from django.http import Http404
from django.utils.cache import patch_cache_control
from django.views.static import serve
from wagtail.images import get_image_model
from wagtail.permissions import policy_registry

from cms.visibility import may_view_media

IMAGE_FOLDERS = ("original_images", "images")
# Image files never change under a name (a new upload or rendition gets a new one).
PUBLIC_MAX_AGE = 24 * 3600


def _image_for(path: str):
    Image = get_image_model()
    folder = path.split("/", 1)[0]
    if folder == "original_images":
        return Image.objects.select_related("collection").filter(file=path).first()
    if folder == "images":
        rendition = (
            Image.get_rendition_model()
            .objects.select_related("image__collection")
            .filter(file=path)
            .first()
        )
        return rendition.image if rendition else None
    return None


def serve_media(request, path):
    path = posixpath.normpath(path).lstrip("/")
    if path.startswith("..") or path.split("/", 1)[0] not in IMAGE_FOLDERS:
        raise Http404("not found")
    image = _image_for(path)
    if image is None:
        raise Http404("not found")
    restrictions = list(image.collection.get_view_restrictions())
    policy = policy_registry.get_by_type(type(image))
    if not may_view_media(request, image, restrictions, policy):
        raise Http404("not found")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if restrictions:
        patch_cache_control(response, private=True, no_store=True)
    else:
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    return response
