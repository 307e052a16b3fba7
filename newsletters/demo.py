"""Newsletter issue #3 of the seed, composed from the demo pages."""

from cms.models import HomePage
from newsletters.models import NewsletterIndexPage, NewsletterPage


def _story(heading, text, button=None):
    return ("story", {"heading": heading, "text": text, "image": None, "button": button or {}})


def seed_newsletter(content: dict) -> dict:
    home: HomePage = content["home"]
    archive = NewsletterIndexPage.objects.child_of(home).first()
    if archive is None:
        archive = NewsletterIndexPage(title="Newsletter", slug="newsletter")
        home.add_child(instance=archive)
        archive.save_revision().publish()

    issue = NewsletterPage.objects.filter(issue_number=3).first()
    if issue is not None:
        return {"newsletter_index": archive, "newsletter": issue}

    handbook = content["handbook"]
    pdf = content["handbook_pdf"]
    talks, ewmd, conference, _launch = content["events"]
    body = [
        _story(
            "Our Gender Equality Training Handbook becomes itself a good practice in Europe!",
            f"<p>{handbook.summary}</p>",
            {"label": "Click here to download the handbook", "page": None, "url": pdf.url},
        ),
        _story(
            talks.title,
            f"<p>{talks.summary}</p>",
            {"label": "Watch the recording", "page": talks, "url": ""},
        ),
        _story(ewmd.title, f"<p>{ewmd.summary}</p>"),
        _story(conference.title, f"<p>{conference.summary}</p>"),
        ("divider", None),
        _story(
            "Our next actions",
            "<p>We entered the second phase of the PENELOPE Project, dedicated to delivering a "
            "new <b>video toolkit on gender equality strategies for SMEs</b>, flowing into the "
            "upcoming <b>Virtual Learning Environment</b>. Stay tuned!</p>",
        ),
        ("divider", None),
    ]
    for interview in content["interviews"]:
        body.append(
            _story(
                f"{interview.interviewee_name}, {interview.role_line}",
                f"<p>“{interview.pull_quote}”</p>",
                {"label": "Read the full interview", "page": interview, "url": ""},
            )
        )
    issue = NewsletterPage(
        title="Newsletter #3",
        slug="newsletter-3",
        issue_number=3,
        subject="PENELOPE newsletter #3: our handbook becomes a good practice in Europe",
        preheader="273 downloads, three events and four interviewees in the spotlight.",
        header_title="Cluster-based approach to integrate gender mainstreaming strategies "
        "in European SMEs",
        body=body,
    )
    archive.add_child(instance=issue)
    issue.save_revision().publish()
    return {"newsletter_index": archive, "newsletter": issue}
