"""Organisations become translatable (wagtail-localize).

Wagtail's bootstrap pattern: the locale and translation key are added nullable, every
existing organisation gets its own key and the default locale
(`BootstrapTranslatableModel`), then both become required and unique together. Names
are unique per language instead of overall.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models
from wagtail.models import BootstrapTranslatableModel


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0005_page_api_state"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [
        migrations.AddField(
            model_name="organisation",
            name="locale",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
                verbose_name="locale",
            ),
        ),
        migrations.AddField(
            model_name="organisation",
            name="translation_key",
            field=models.UUIDField(null=True, editable=False),
        ),
        BootstrapTranslatableModel("cms.Organisation"),
        migrations.AlterField(
            model_name="organisation",
            name="locale",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="wagtailcore.locale",
                verbose_name="locale",
            ),
        ),
        migrations.AlterField(
            model_name="organisation",
            name="translation_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False),
        ),
        migrations.AlterField(
            model_name="organisation",
            name="name",
            field=models.CharField(max_length=255),
        ),
        migrations.AlterUniqueTogether(
            name="organisation",
            unique_together={("translation_key", "locale")},
        ),
        migrations.AddConstraint(
            model_name="organisation",
            constraint=models.UniqueConstraint(
                fields=("name", "locale"), name="cms_organisation_name_locale"
            ),
        ),
    ]
