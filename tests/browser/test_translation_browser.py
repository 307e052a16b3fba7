"""An editor translates an interview into French in the admin with wagtail-localize, in
Debian's Chromium, publishes it, and the content API serves it with `?locale=fr`."""

import json

import pytest
from django.contrib.auth import get_user_model
from wagtail.models import Locale

from interviews.models import InterviewPage

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"  # noqa: S105 - a test login


@pytest.fixture
def admin_page(live_site, seeded, browser_page):
    get_user_model().objects.create_superuser("claire", "claire@example.org", PASSWORD)
    page = browser_page
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label("Username").fill("claire")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_site['url']}/admin/")
    return page


def test_an_editor_translates_an_interview_and_the_api_serves_it(live_site, seeded, admin_page):
    from playwright.sync_api import expect

    url = live_site["url"]
    interview = seeded["interviews"][3]  # Päivi Ekdahl
    french = Locale.objects.get(language_code="fr")

    # "Translate this page" → French.
    admin_page.goto(f"{url}/admin/localize/submit/page/{interview.pk}/")
    admin_page.get_by_label("French").check()
    admin_page.get_by_role("button", name="Submit").click()

    # The translation editor: every text of the page, waiting for its French.
    expect(admin_page.get_by_role("button", name="Publish in French")).to_be_visible()
    expect(admin_page.get_by_text("Interview with Päivi Ekdahl").first).to_be_visible()
    expect(admin_page.get_by_text("Development Director").first).to_be_visible()
    translated = interview.get_translation(french).specific
    assert not translated.live  # a draft until the editor publishes it

    def translate(source_text, french_text):
        segment = admin_page.locator("li", has=admin_page.get_by_text(source_text, exact=True))
        segment.last.get_by_role("button", name="Translate").click()
        # The editor's one open text area (the other textbox is the admin menu's search).
        box = admin_page.get_by_role("textbox").and_(admin_page.locator("textarea"))
        box.fill(french_text)
        box.press("Enter")  # saves, as the Save button does
        expect(admin_page.get_by_text(french_text, exact=True).first).to_be_visible()
        expect(admin_page.get_by_text("Saving...")).to_have_count(0)

    translate("Interview with Päivi Ekdahl", "Entretien avec Päivi Ekdahl")
    translate("Development Director", "Directrice du développement")

    admin_page.get_by_role("button", name="Publish in French").click()
    expect(admin_page.get_by_text("Published").first).to_be_visible()

    translated = InterviewPage.objects.get(pk=translated.pk)
    assert translated.live
    assert translated.title == "Entretien avec Päivi Ekdahl"
    assert translated.role == "Directrice du développement"
    assert translated.translation_key == interview.translation_key

    # What an external site reads.
    admin_page.goto(f"{url}/api/v2/pages/?type=interviews.InterviewPage&locale=fr")
    body = json.loads(admin_page.locator("body").inner_text())
    assert [item["id"] for item in body["items"]] == [translated.pk]
    item = body["items"][0]
    assert item["title"] == "Entretien avec Päivi Ekdahl"
    assert item["role"] == "Directrice du développement"
    assert item["meta"]["locale"] == "fr"
    assert item["meta"]["translations"] == [{"id": interview.pk, "locale": "en"}]
    admin_page.goto(f"{url}/api/v2/pages/{interview.pk}/")
    source = json.loads(admin_page.locator("body").inner_text())
    assert source["meta"]["translations"] == [{"id": translated.pk, "locale": "fr"}]
    assert source["title"] == "Interview with Päivi Ekdahl"
