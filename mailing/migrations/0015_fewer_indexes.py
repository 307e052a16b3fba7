"""Indexes no query needs: one of the two indexes `db_index` made on the subscriber's
email hash (the one kept compares bytes, not the database's collation), and the single-column indexes of foreign keys that a composite index already starts
with. Dropped by name, without touching the foreign keys themselves (an AlterField
would drop and re-validate each constraint over the whole table)."""

import django.db.models.deletion
from django.db import migrations, models


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
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS mailing_subscriber_email_hash_c0be40d1",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS mailing_subscriber_email_hash_c0be40d1_like",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS mailing_subscriberevent_subscriber_id_85d6b65f",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS mailing_subscription_mailing_list_id_7a258548",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS mailing_subscription_subscriber_id_eef7b0ab",
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
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
