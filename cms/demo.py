"""Demo content rebuilt from the PENELOPE newsletter #3 (see seed/newsletter-3.txt).

Every object is looked up by a natural key (slug, name, title) before it is created,
so running the seed twice changes nothing. Images and the handbook PDF are generated
locally with Pillow: no network.
"""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.images import ImageFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.models import Locale, Page, Site

from cms.models import (
    EventIndexPage,
    EventPage,
    GoodPracticeDocument,
    GoodPracticeIndexPage,
    GoodPracticeLink,
    GoodPracticePage,
    HomePage,
    Organisation,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
PURPLE = (107, 44, 145)

ORGANISATIONS = [
    {
        "name": "PENELOPE project",
        "short_name": "PENELOPE",
        "country": "",
        "website": "https://www.penelope-project.eu",
        "description": "Erasmus+ project on cluster-based gender mainstreaming in European SMEs.",
    },
    {"name": "AMBIT", "short_name": "AMBIT", "country": "IT", "website": ""},
    {
        "name": "Danubius University",
        "short_name": "",
        "country": "RO",
        "website": "https://univ-danubius.ro",
    },
    {
        "name": "Cluster Mecanic Vallée",
        "short_name": "Mecanic Vallée",
        "country": "FR",
        "website": "https://www.mecanicvallee.com",
    },
    {
        "name": "Regional Council of Lapland",
        "short_name": "",
        "country": "FI",
        "website": "https://www.lapinliitto.fi",
    },
    {
        "name": "European Cluster Collaboration Platform",
        "short_name": "ECCP",
        "country": "BE",
        "website": "https://www.clustercollaboration.eu",
    },
    {
        "name": "EWMD Network",
        "short_name": "EWMD",
        "country": "",
        "website": "https://www.ewmd.org",
    },
    {
        "name": "European Commission",
        "short_name": "",
        "country": "BE",
        "website": "https://commission.europa.eu",
    },
    {
        "name": "Austrian National Cluster Platform",
        "short_name": "",
        "country": "AT",
        "website": "https://www.clusterplattform.at",
    },
]

HANDBOOK_TITLE = (
    "Gender Equality Training Handbook: Supporting European Clusters Towards Gender Mainstreaming"
)
HANDBOOK_SUMMARY = (
    "A pioneer collection of good practices, interviews and a toolbox that supports companies "
    "towards gender mainstreaming, now a point of reference in the European cluster community: "
    "downloaded 273 times between mid-February and mid-May 2024."
)


def _dt(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(hour, minute), tzinfo=BRUSSELS)


def _upcoming_launch() -> datetime:
    """The Virtual Learning Environment launch: ten weeks after the seed first runs."""
    day = timezone.localdate() + timedelta(weeks=10)
    return datetime.combine(day, time(10, 0), tzinfo=BRUSSELS)


EVENTS = [
    {
        "slug": "eu-clusters-talks-gender-equality-2024",
        "title": "EU Clusters Talks: Gender Equality for SME competitiveness and sustainability",
        "start": lambda: _dt("2024-01-25", 10),
        "end": lambda: _dt("2024-01-25", 11, 30),
        "is_online": True,
        "organiser": "European Cluster Collaboration Platform",
        "participant_count": 90,
        "recording_url": "https://www.clustercollaboration.eu/eu-clusters-talks",
        "summary": (
            "Our representative Lucia Seel introduced the PENELOPE handbook in avant-première "
            "to more than 90 registered participants."
        ),
    },
    {
        "slug": "ewmd-brussels-declaration-online-event",
        "title": "EWMD Network online event under the Brussels Declaration initiative",
        "start": lambda: _dt("2024-01-31", 18),
        "end": lambda: _dt("2024-01-31", 19, 30),
        "is_online": True,
        "organiser": "EWMD Network",
        "participant_count": 50,
        "summary": (
            "Raquel Ortega Martínez presented the practical toolkit for gender mainstreaming "
            "to 50 registered participants from European associations of women."
        ),
    },
    {
        "slug": "european-cluster-conference-2024",
        "title": "European Cluster Conference 2024",
        "start": lambda: _dt("2024-05-08", 9),
        "end": lambda: _dt("2024-05-08", 18),
        "is_online": False,
        "venue": "The Square",
        "city": "Brussels",
        "country": "BE",
        "organiser": "European Commission",
        "participant_count": 500,
        "summary": (
            "At the largest ever European Cluster Conference, Mirela Greti Puiu introduced the "
            "PENELOPE Handbook in the session “Shared Value Through Clusters”, before more "
            "than 120 people in the room."
        ),
    },
    {
        "slug": "virtual-learning-environment-launch",
        "title": "Launch of the PENELOPE video toolkit and Virtual Learning Environment",
        "start": _upcoming_launch,
        "end": lambda: _upcoming_launch() + timedelta(hours=1, minutes=30),
        "is_online": True,
        "organiser": "PENELOPE project",
        "registration_url": "https://www.penelope-project.eu/vle",
        "summary": (
            "A new video toolkit on gender equality strategies for SMEs, flowing into a free "
            "e-learning platform for cluster practitioners and SMEs."
        ),
    },
]


# Generated media ------------------------------------------------------------------


def _font(size: int):
    return ImageFont.load_default(size=size)


def initials_avatar(name: str) -> bytes:
    size = 480
    img = PILImage.new("RGB", (size, size), (243, 240, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse((24, 24, size - 24, size - 24), fill=PURPLE)
    initials = "".join(part[0] for part in name.split()[:2]).upper()
    draw.text((size / 2, size / 2), initials, fill="white", font=_font(170), anchor="mm")
    return _png(img)


def _cover(title: str, colour=PURPLE) -> bytes:
    width, height = 1200, 630
    img = PILImage.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(img)
    for i in range(0, width, 40):
        draw.line((i, height, i + 300, 0), fill=tuple(min(255, c + 18) for c in colour), width=6)
    words, lines, line = title.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if len(candidate) > 28:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    y = height / 2 - 36 * len(lines)
    for text in lines[:5]:
        draw.text((80, y), text, fill="white", font=_font(60))
        y += 72
    return _png(img)


def _handbook_pdf() -> bytes:
    pages = []
    for heading, body in [
        ("PENELOPE", "Gender Equality Training Handbook"),
        ("Supporting European Clusters", "Towards Gender Mainstreaming"),
    ]:
        page = PILImage.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle((0, 0, 1240, 300), fill=PURPLE)
        draw.text((100, 110), heading, fill="white", font=_font(80))
        draw.text((100, 500), body, fill=PURPLE, font=_font(56))
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return buffer.getvalue()


def _png(img) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def demo_image(title: str, data: bytes, alt: str) -> Image:
    image = Image.objects.filter(title=title).first()
    if image is None:
        slug = "".join(c if c.isalnum() else "-" for c in title.lower())[:60]
        image = Image(title=title, description=alt)
        image.file = ImageFile(io.BytesIO(data), name=f"{slug}.png")
        image.save()
    return image


def _document(title: str, data: bytes, filename: str) -> Document:
    document = Document.objects.filter(title=title).first()
    if document is None:
        document = Document(title=title)
        document.file = SimpleUploadedFile(filename, data, content_type="application/pdf")
        document.save()
    return document


# Pages ----------------------------------------------------------------------------


def child_page(parent: Page, model, slug: str, **fields):
    """The child page with this slug, created and published once."""
    existing = model.objects.child_of(parent).filter(slug=slug).first()
    if existing is not None:
        return existing, False
    page = model(slug=slug, **fields)
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page, True


def ensure_locales() -> dict[str, Locale]:
    """The default locale (from LANGUAGE_CODE) and French, the demo's translation."""
    default = Locale.get_default()
    french, _ = Locale.objects.get_or_create(language_code="fr")
    return {default.language_code: default, "fr": french}


def ensure_home() -> HomePage:
    home = HomePage.objects.filter(locale=Locale.get_default()).first()
    if home is None:
        root = Page.get_first_root_node()
        home = HomePage(
            title="PENELOPE",
            slug="penelope",
            intro=(
                "<p>Cluster-based approach to integrate gender mainstreaming strategies in "
                "European SMEs.</p>"
            ),
        )
        root.add_child(instance=home)
        home.save_revision().publish()
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(
            hostname="localhost",
            port=8000,
            root_page=home,
            is_default_site=True,
            site_name=settings.WAGTAIL_SITE_NAME,
        )
    elif site.root_page_id != home.pk:
        old_root = site.root_page
        site.root_page = home
        site.site_name = settings.WAGTAIL_SITE_NAME
        site.save()
        # Wagtail's install leaves a bare "Welcome" page; remove it once it is orphaned.
        if type(old_root.specific) is Page and not old_root.get_children().exists():
            old_root.delete()
    return home


def seed_site() -> dict:
    """The home page (the default site's root) and the organisations of the seed."""
    locales = ensure_locales()
    home = ensure_home()
    organisations = {}
    for data in ORGANISATIONS:
        org, _ = Organisation.objects.get_or_create(
            name=data["name"], locale=Locale.get_default(), defaults=data
        )
        organisations[org.name] = org
    return {"home": home, "organisations": organisations, "locales": locales}


def seed_content(content: dict) -> dict:
    """The handbook (good practice) and the events of the seed, with their media."""
    home, organisations = content["home"], content["organisations"]
    practices_index, _ = child_page(
        home,
        GoodPracticeIndexPage,
        "good-practices",
        title="Good practices",
        intro="<p>What works when clusters support SMEs towards gender mainstreaming.</p>",
    )
    events_index, _ = child_page(
        home,
        EventIndexPage,
        "events",
        title="Events",
        intro="<p>Where PENELOPE presents its work, and where to meet us next.</p>",
    )

    handbook_pdf = _document(
        "PENELOPE Gender Equality Training Handbook",
        _handbook_pdf(),
        "penelope-gender-equality-training-handbook.pdf",
    )
    handbook_cover = demo_image(
        "Gender Equality Training Handbook cover",
        _cover("Gender Equality Training Handbook"),
        "Cover of the PENELOPE Gender Equality Training Handbook",
    )
    handbook, created = child_page(
        practices_index,
        GoodPracticePage,
        "gender-equality-training-handbook",
        title=HANDBOOK_TITLE,
        summary=HANDBOOK_SUMMARY,
        organisation=organisations["PENELOPE project"],
        cover_image=handbook_cover,
        date=datetime(2024, 2, 15).date(),
        body=[
            (
                "paragraph",
                (
                    "<p>Being a pioneer action, with its collection of good practices, interviews "
                    "and development of a toolbox supporting companies towards gender "
                    "mainstreaming, the PENELOPE handbook has soon become a point of reference in "
                    "the cluster community. Between mid-February and mid-May 2024, it has been "
                    "downloaded a whopping 273 times!</p>"
                ),
            ),
            (
                "paragraph",
                (
                    "<p>An intense promotion has also been done on social media, on our LinkedIn "
                    "profile (with already 240+ followers) and on various other external media "
                    "(Austrian National Cluster Platform, European Cluster Collaboration Platform, "
                    "newsletters, among others).</p>"
                ),
            ),
            ("document", {"document": handbook_pdf, "label": "Download the handbook"}),
        ],
    )
    if created:
        GoodPracticeDocument.objects.create(
            page=handbook, document=handbook_pdf, label="Click here to download the handbook"
        )
        GoodPracticeLink.objects.create(
            page=handbook,
            title="European Cluster Collaboration Platform",
            url="https://www.clustercollaboration.eu",
        )
        GoodPracticeLink.objects.create(
            page=handbook,
            title="Austrian National Cluster Platform",
            url="https://www.clusterplattform.at",
        )
        handbook.save_revision().publish()

    events = []
    for data in EVENTS:
        fields = {k: v for k, v in data.items() if k not in {"slug", "start", "end", "organiser"}}
        cover = demo_image(
            f"{data['title']} cover",
            _cover(data["title"], (60, 40, 110)),
            f"Banner of {data['title']}",
        )
        page, _ = child_page(
            events_index,
            EventPage,
            data["slug"],
            start=data["start"](),
            end=data["end"](),
            organiser=organisations[data["organiser"]],
            cover_image=cover,
            **fields,
        )
        events.append(page)

    return {
        "handbook": handbook,
        "handbook_pdf": handbook_pdf,
        "events": events,
    }


# French ----------------------------------------------------------------------------
# The demo's translation, made with wagtail-localize from these PO messages (source text
# → French) as a translator would upload them (`cms.translating`). Good practices and
# events stay in English: French readers get them in the source language.

NBSP = "\u00a0"  # French puts a no-break space before : ; ! ? and inside « »

HOME_FR = {
    "PENELOPE": "PENELOPE",
    "penelope": "penelope-fr",
    "Cluster-based approach to integrate gender mainstreaming strategies in European SMEs.": (
        "Une approche par les clusters pour intégrer l’égalité femmes-hommes dans les "
        "stratégies des PME européennes."
    ),
}

# Names stay as the organisations write them, in French where they have an official one.
ORGANISATIONS_FR = {
    "PENELOPE project": "Projet PENELOPE",
    "PENELOPE": "PENELOPE",
    "Erasmus+ project on cluster-based gender mainstreaming in European SMEs.": (
        "Projet Erasmus+ consacré à l’intégration de l’égalité femmes-hommes dans les PME "
        "européennes, avec l’appui des clusters."
    ),
    "AMBIT": "AMBIT",
    "Danubius University": "Université Danubius",
    "Cluster Mecanic Vallée": "Cluster Mecanic Vallée",
    "Mecanic Vallée": "Mecanic Vallée",
    "Regional Council of Lapland": "Conseil régional de Laponie",
    "European Cluster Collaboration Platform": "European Cluster Collaboration Platform",
    "ECCP": "ECCP",
    "EWMD Network": "Réseau EWMD",
    "EWMD": "EWMD",
    "European Commission": "Commission européenne",
    "Austrian National Cluster Platform": "Austrian National Cluster Platform",
}


def seed_french_site(content: dict) -> dict:
    """The French home page and organisations."""
    from cms.translating import translate_from_po

    french = content["locales"]["fr"]
    home_fr = translate_from_po(content["home"], french, HOME_FR)
    organisations_fr = {
        name: translate_from_po(org, french, ORGANISATIONS_FR)
        for name, org in content["organisations"].items()
    }
    return {"home_fr": home_fr, "organisations_fr": organisations_fr}
