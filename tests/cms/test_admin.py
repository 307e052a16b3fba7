import pytest
from django.urls import reverse
from wagtail.models import Page

pytestmark = pytest.mark.django_db


def test_editor_can_open_every_seeded_page_in_the_admin(seeded, editor_client):
    for page in Page.objects.filter(depth__gt=1):
        response = editor_client.get(reverse("wagtailadmin_pages:edit", args=[page.pk]))
        assert response.status_code == 200, page


def test_organisations_are_a_snippet_in_the_admin(seeded, editor_client):
    response = editor_client.get("/admin/snippets/cms/organisation/")
    assert response.status_code == 200
    assert b"Danubius University" in response.content


def test_admin_requires_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
