"""Issue #3 in Debian's Chromium in light and dark mode: every piece of text a reader sees
keeps a WCAG contrast of at least 4.5:1, and dark mode really turns the email dark
(Apple Mail and iOS follow ``prefers-color-scheme``; Outlook.com marks what it recolours
with ``data-ogsc``/``data-ogsb``)."""

import pytest

from newsletters.rendering import personalise, render_email

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# For each element holding text a reader can see: its colour and the colour of the
# first opaque background behind it, and the WCAG contrast ratio of the two.
CONTRASTS_JS = """
() => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor || "rgb(255,255,255)");
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const el = text.parentElement;
    if (!text.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
    const fg = rgb(style.color), bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    found.push({text: text.textContent.trim().slice(0, 60), ratio: (hi + 0.05) / (lo + 0.05),
                bg_luminance: luminance(bg), fg: style.color});
  }
  return found;
}
"""


@pytest.fixture
def issue_html(seeded):
    html = render_email(seeded["newsletter"]).html
    values = {"name": "Ada", "email": "ada@example.org", "web_url": "https://cms.example.org/"}
    return personalise(html, values, html=True)


def shown(browser_page, html, color_scheme, prepare=""):
    # Nothing leaves the machine: image requests are answered with nothing.
    browser_page.route("**/*", lambda route: route.abort())
    browser_page.emulate_media(color_scheme=color_scheme)
    browser_page.set_content(html)
    if prepare:
        browser_page.evaluate(prepare)
    return browser_page.evaluate(CONTRASTS_JS)


def main_text(contrasts):
    return next(c for c in contrasts if c["text"].startswith("Being a pioneer action"))


def assert_readable(contrasts):
    assert len(contrasts) > 40
    poor = [c for c in contrasts if c["ratio"] < 4.5]
    assert not poor, poor


def test_email_is_readable_in_light_mode(browser_page, issue_html):
    contrasts = shown(browser_page, issue_html, "light")
    assert_readable(contrasts)
    assert main_text(contrasts)["bg_luminance"] > 0.9  # dark text on white


def test_email_turns_dark_and_stays_readable_in_dark_mode(browser_page, issue_html):
    """Apple Mail and iOS Mail apply the prefers-color-scheme styles."""
    contrasts = shown(browser_page, issue_html, "dark")
    assert_readable(contrasts)
    body = main_text(contrasts)
    assert body["bg_luminance"] < 0.05 and body["ratio"] > 10  # light text on a dark card


def test_outlook_com_dark_mode_markers_get_the_dark_palette(browser_page, issue_html):
    """Outlook.com marks what it recoloured with data-ogsc/data-ogsb on the message's
    container; the email's own dark palette then applies, and stays readable."""
    marked = (
        "() => { document.body.dataset.ogsc = '#2b2b2b'; document.body.dataset.ogsb = '#fff'; }"
    )
    contrasts = shown(browser_page, issue_html, "light", prepare=marked)
    assert_readable(contrasts)
    assert main_text(contrasts)["bg_luminance"] < 0.05
