from django.conf import settings
from django.core.management.base import BaseCommand

from penelope.translations import catalogues, compile_all


class Command(BaseCommand):
    help = (
        "Compile the translation catalogues (locale/*/LC_MESSAGES/django.po) into .mo files "
        "with polib, without GNU gettext; only those missing or older than their .po."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Compile every catalogue.")

    def handle(self, *args, force=False, **options):
        written = compile_all(settings.LOCALE_PATHS, force=force)
        for mo in written:
            self.stdout.write(f"compiled {mo}")
        total = len(catalogues(settings.LOCALE_PATHS))
        self.stdout.write(f"{len(written)} compiled, {total - len(written)} already up to date.")
