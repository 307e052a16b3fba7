"""Indexes no query needs: the two indexes `db_index` made on the subscriber's email
hash (replaced by one that compares bytes, not the database's collation), and the
single-column indexes of foreign keys that a composite index already starts with.
Dropped by name, without touching the foreign keys themselves (an AlterField would drop
and re-validate each constraint over the whole table); going back recreates them."""

import django.db.models.deletion
from django.db import migrations, models

# index → (table, column) to recreate it when going back; the LIKE twin (PostgreSQL
# only) is not recreated, the plain index serves every query.
DROPPED = {
    "mailing_subscriber_email_hash_c0be40d1": ("mailing_subscriber", "email_hash"),
    "mailing_subscriber_email_hash_c0be40d1_like": None,
    "mailing_subscriberevent_subscriber_id_85d6b65f": ("mailing_subscriberevent", "subscriber_id"),
    "mailing_subscription_mailing_list_id_7a258548": ("mailing_subscription", "mailing_list_id"),
    "mailing_subscription_subscriber_id_eef7b0ab": ("mailing_subscription", "subscriber_id"),
}


def _drop(name, place):
    back = f"CREATE INDEX IF NOT EXISTS {name} ON {place[0]} ({place[1]})" if place else ""
    return migrations.RunSQL(
        f"DROP INDEX IF EXISTS {name}", reverse_sql=back or migrations.RunSQL.noop
    )


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0014_languages"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="subscriber",
                    name="email_hash",
                    field=models.CharField(default="", editable=False, max_length=64),
                ),
                migrations.AlterField(
                    model_name="subscriberevent",
                    name="subscriber",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="mailing.subscriber",
                    ),
                ),
                migrations.AlterField(
                    model_name="subscription",
                    name="mailing_list",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="subscriptions",
                        to="mailing.mailinglist",
                    ),
                ),
                migrations.AlterField(
                    model_name="subscription",
                    name="subscriber",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="subscriptions",
                        to="mailing.subscriber",
                    ),
                ),
            ],
            database_operations=[_drop(name, place) for name, place in DROPPED.items()],
        ),
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(
                fields=["email_hash"],
                name="mailing_subscriber_hash",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
    ]
