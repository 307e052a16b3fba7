"""Fixtures for the whole suite: the demo content and a logged-in editor."""

import pytest


@pytest.fixture
def seeded(db):
    """The demo content of newsletter #3, as `seed_demo` builds it."""
    from penelope import demo

    return demo.seed_all()


@pytest.fixture
def editor(db, django_user_model):
    """An editor with every right in the admin (a superuser)."""
    return django_user_model.objects.create_superuser("editor", "editor@example.org", "pw")


@pytest.fixture
def editor_client(client, editor):
    """Django's test client, logged in as ``editor``."""
    client.force_login(editor)
    return client
