"""An import's language column lands on the site's languages, however the other tool or
the person in Excel wrote it: codes, regional codes, three-letter codes, or the
language's name in English or in itself."""

import pytest

from mailing.models import Subscriber
from tests.mailing.test_import_export import run_import

pytestmark = pytest.mark.django_db

# As Excel writes a sheet kept by hand ("Save as CSV UTF-8": BOM, CRLF, semicolons in
# French locales) with a Mailchimp-style header.
SHEET = (
    "\ufeffEmail Address;First Name;Last Name;Language\r\n"
    "amelie@example.org;Amélie;Roux;Français\r\n"
    "jonas@example.org;Jonas;Weber;Deutsch\r\n"
    "anna@example.org;Anna;Rossi;italian\r\n"
    "lieve@example.org;Lieve;Peeters;nl-BE\r\n"
    "marc@example.org;Marc;Dubois;fr_BE\r\n"
    "sofia@example.org;Sofia;Alves;pt-BR\r\n"
    "ioana@example.org;Ioana;Pop;ron\r\n"
    "eero@example.org;Eero;Mäki;Suomi\r\n"
    "worf@example.org;Worf;;tlhIngan Hol\r\n"
)


def test_language_names_and_codes_map_onto_the_sites_languages(seeded, tmp_path):
    output, rejected = run_import(tmp_path, SHEET, "--list", "newsletter", "--confirmed")
    assert rejected == []
    got = {e.split("@")[0]: lang for e, lang in Subscriber.objects.values_list("email", "language")}
    expected = {
        "amelie": "fr",
        "jonas": "de",
        "anna": "it",
        "lieve": "nl",
        "marc": "fr",
        "sofia": "pt",  # a language the site does not have (yet): kept, sent the fallback
        "ioana": "ro",
        "eero": "fi",
    }
    assert {name: got[name] for name in expected} == expected
    worf = Subscriber.objects.get(email="worf@example.org")
    # Not a language we know: the row is imported, the value kept as an attribute.
    assert worf.attributes == {"Language": "tlhIngan Hol"}
