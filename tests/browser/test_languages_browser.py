"""An editor sends issue #3, translated into French, to the demo list of readers in eight
languages: the confirmation screen counts each language and warns about those without
a translation; the French reader gets the French issue and its web copy in French; the
campaign report splits by language.

In-process live server (``live_site``): django-q2 tasks run in the request, mail goes to
a real SMTP server on loopback, and Chromium drives the admin by labels and roles.
"""

import re

import pytest
from django.contrib.auth.models import Group
from wagtail.models import Locale

from cms.models import User
from mailing.models import Campaign
from newsletters.models import NewsletterPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"  # noqa: S105
FR_SUBJECT = "La lettre PENELOPE n° 3 : notre manuel devient une bonne pratique"


@pytest.fixture
def world(live_site):
    from penelope import demo

    content = demo.seed_all()
    user = User.objects.create_user("sam", "sam@example.org", PASSWORD, first_name="Sam")
    user.groups.add(Group.objects.get(name="Editors"), Group.objects.get(name="Newsletter senders"))
    issue = content["newsletter"]
    french_locale, _ = Locale.objects.get_or_create(language_code="fr")
    french = issue.get_translation_or_none(french_locale) or issue.copy_for_translation(
        french_locale, copy_parents=True
    )
    french = NewsletterPage.objects.get(pk=french.pk)
    french.title = "La lettre PENELOPE n° 3"
    french.subject = FR_SUBJECT
    french.header_title = "L'égalité femmes-hommes au cœur des PME européennes"
    french.save_revision().publish()
    return {**live_site, **content, "french": french}


def test_one_send_reaches_each_reader_in_their_language(world, browser_page):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    page, url, smtp = browser_page, world["url"], world["smtp"]
    issue = world["newsletter"]
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/admin/")

    page.goto(f"{url}/admin/campaigns/send/{issue.pk}/")
    page.get_by_role("checkbox", name="PENELOPE newsletter").check()
    page.get_by_role("button", name="Review and send now…").click()
    page.wait_for_url("**/confirm/")
    languages = page.locator("[data-fact=languages]")
    expect(languages.locator("[data-language=fr]")).to_have_text("French: 1 reader")
    expect(languages.locator("[data-language=de]")).to_contain_text(
        "German: 1 reader (no translation: they get it in English)"
    )
    warning = page.locator("#language-warning")
    expect(warning).to_contain_text("Some readers' language has no live translation")
    for name in ("German", "Spanish", "Romanian", "Italian", "Finnish", "Dutch"):
        expect(warning).to_contain_text(f"{name} (1, who get it in English)")
    page.get_by_role("button", name="Confirm and send now").click()
    expect(page.locator("[data-field=status_label]")).to_have_text("Sent")

    messages = smtp.wait_for(8)
    subjects = {m["To"].addresses[0].addr_spec: m["Subject"] for m in messages}
    assert subjects.pop("camille.durand@example.org") == FR_SUBJECT
    assert set(subjects.values()) == {issue.subject}
    camille = next(m for m in messages if "camille.durand" in m["To"].addresses[0].addr_spec)
    html = camille.get_body(("html",)).get_content()
    assert re.search(r'<html lang="fr"', html)
    campaign = Campaign.objects.get()
    web = re.search(rf'href="({re.escape(url)}/newsletters/{campaign.key}/\?lang=fr)"', html)
    assert web, "the French email links to the French web copy"

    # The reader opens the web copy in the browser: French.
    page.goto(web.group(1))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_text("L'égalité femmes-hommes au cœur des PME européennes")).to_be_visible()

    # The report splits by language.
    page.goto(f"{url}/admin/campaigns/{campaign.pk}/")
    table = page.get_by_role("table", name="Per language")
    french_row = table.locator("[data-language=fr]")
    expect(french_row.get_by_role("rowheader")).to_have_text("French")
    expect(french_row.get_by_role("cell").first).to_have_text("1")
    expect(table.locator("[data-language=en]").get_by_role("cell").first).to_have_text("7")
