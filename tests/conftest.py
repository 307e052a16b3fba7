"""Fixtures for the whole suite: the demo content and a logged-in editor."""

import pytest


@pytest.fixture
def seeded(db):
    """The demo content of newsletter #3 in English, as `seed_demo` builds it."""
    from penelope import demo

    return demo.seed_all(translations=False)


@pytest.fixture
def seeded_translated(db):
    """`seeded` with the demo's French translations (issue #3 and its interviews)."""
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


def _is_transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(
        {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))
        or (marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a transactional test (a live server), Django flushes every table, and with
    them the rows the migrations made (Wagtail's root page and site, groups, schedules).
    Put them back at once: whatever test this process runs next (pytest-xdist hands each
    process whole files, in any order) finds the database as migrated."""
    yield
    if not _is_transactional(item) or nextitem is None:
        # Without a next test, pytest has just torn down the session too: the test database
        # is gone and the connection points at the real one again. Nothing to put back.
        return
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        for connection in connections.all():
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                # Without serialized rollback, Django's flush re-created content types and
                # permissions under new ids: empty the tables again, quietly, first.
                call_command(
                    "flush",
                    database=connection.alias,
                    interactive=False,
                    inhibit_post_migrate=True,
                    verbosity=0,
                )
                connection.creation.deserialize_db_from_string(contents)
                # flush restarted PostgreSQL's sequences; the rows came back with their
                # ids: move each sequence past them, or the next insert reuses id 1.
                statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models())
                if statements:
                    with connection.cursor() as cursor:
                        for statement in statements:
                            cursor.execute(statement)
    # The content types are back under their first ids: forget the ones cached meanwhile.
    ContentType.objects.clear_cache()


def pytest_configure(config):
    """Compile the translation catalogues a clean checkout lacks (``.mo`` files are built,
    not committed), or that are older than their ``.po``, before Django loads any."""
    from pathlib import Path

    from penelope.translations import compile_all

    compile_all([Path(__file__).resolve().parent.parent / "locale"])
