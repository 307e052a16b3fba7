"""The "Newsletter senders" group (may send to real lists) and the dispatcher's schedule."""

from django.db import migrations

GROUP = "Newsletter senders"


def forwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    Schedule = apps.get_model("django_q", "Schedule")

    campaign_type, _ = ContentType.objects.get_or_create(app_label="mailing", model="campaign")
    send, _ = Permission.objects.get_or_create(
        content_type=campaign_type,
        codename="send_campaign",
        defaults={"name": "Can send newsletters to mailing lists"},
    )
    admin_type, _ = ContentType.objects.get_or_create(app_label="wagtailadmin", model="admin")
    access, _ = Permission.objects.get_or_create(
        content_type=admin_type,
        codename="access_admin",
        defaults={"name": "Can access Wagtail admin"},
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(send, access)

    # Safety net: every minute, start due campaigns and revive stalled ones.
    Schedule.objects.get_or_create(
        name="mailing.dispatch",
        defaults={"func": "mailing.tasks.dispatch", "schedule_type": "I", "minutes": 1},
    )


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()
    apps.get_model("django_q", "Schedule").objects.filter(name="mailing.dispatch").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0003_campaigns"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
