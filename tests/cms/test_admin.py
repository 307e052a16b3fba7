import pytest
from django.urls import reverse
from wagtail.models import Page

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, seeded, django_user_model):
    user = django_user_model.objects.create_superuser("editor", "editor@example.org", "pw")
    client.force_login(user)
    return client


def test_editor_can_open_every_seeded_page_in_the_admin(admin_client):
    for page in Page.objects.filter(depth__gt=1):
        response = admin_client.get(reverse("wagtailadmin_pages:edit", args=[page.pk]))
        assert response.status_code == 200, page


def test_organisations_are_a_snippet_in_the_admin(admin_client):
    response = admin_client.get("/admin/snippets/cms/organisation/")
    assert response.status_code == 200
    assert b"Danubius University" in response.content


def test_admin_requires_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
