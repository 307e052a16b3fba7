"""Every minute the worker runs Wagtail's scheduled publishing (go_live_at / expire_at)."""

from django.db import migrations

NAME = "cms.publish_scheduled"


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=NAME,
        defaults={"func": "cms.api.tasks.publish_scheduled", "schedule_type": "I", "minutes": 1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0003_content_api_version_and_webhooks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
