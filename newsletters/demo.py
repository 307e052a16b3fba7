"""Newsletter issue #3 of the seed (seed/newsletter-3.txt), composed from the demo pages.

The issue holds references, not copies: names, roles, quotes, the handbook's cover and
download, and the event reports come from their pages when the email is rendered.
Only the issue's own prose (headings, introductions, “our next actions”) lives here.
"""

from django.utils import timezone

from cms.demo import NBSP
from cms.models import HomePage
from newsletters.models import NewsletterIndexPage, NewsletterPage

LINKEDIN_URL = "https://www.linkedin.com/company/penelope-project/"

HANDBOOK_STORY = (
    "<p>Being a pioneer action, with its collection of good practices, interviews and "
    "development of a toolbox supporting companies towards gender mainstreaming, the PENELOPE "
    "‘Gender Equality Training Handbook: Supporting European Clusters Towards Gender "
    "Mainstreaming’ has soon become a point of reference in the cluster community. In fact, "
    "between mid-February and mid-May 2024, it has been downloaded a whopping 273 times!</p>"
    "<p>An intense promotion has also been done on social media, on our "
    '<a href="{linkedin}">LinkedIn profile</a> (with already 240+ followers) and on various '
    'other external media (<a href="{austria}">Austrian National Cluster Platform</a>, '
    '<a href="{eccp}">European Cluster Collaboration Platform</a>, newsletters, among '
    "others).</p>"
    "<p>The handbook was introduced by our representative Lucia Seel in avant-première on "
    "January 2024 at the <b>EU Clusters Talks</b> organised by the European Cluster "
    "Collaboration Platform in a session dedicated to “Gender Equality for SME competitiveness "
    "and sustainability”, with more than 90 registered participants. You can watch the "
    'recording of the event <a href="{recording}">here</a>.</p>'
)

EVENTS_INTRO = (
    "<p>Our work was promoted as well to several European associations of women, and to "
    "the cluster community at the largest ever <b>European Cluster Conference</b>, where our "
    "flyers increased the visibility of the project. We will continue to show our presence in "
    "the newly created LinkedIn Group “Shared Value Through Clusters”.</p>"
)

NEXT_ACTIONS = (
    "<p>We entered the second phase of the PENELOPE Project which is dedicated to delivering a "
    "new <b>video toolkit on gender equality strategies for SMEs</b> that help them in building "
    "a gender-inclusive company culture. This toolkit will support them in developing their "
    "own internal strategies to solve potential gender inequities in the workplace, "
    "contributing to the basis of broad-based, long-term, and substantial reforms within the "
    "European SMEs landscape.</p>"
    "<p>The creative work is under progress, and we are busy to finalise it by the summer in "
    "order to let it flow into the upcoming <b>Virtual Learning Environment</b>, an e-learning "
    "platform allowing cluster practitioners and SMEs to access free of charge after "
    "registration all materials from any type of devices. Stay tuned!</p>"
)

SPOTLIGHT_INTRO = (
    "<p>As in our past newsletter, we take pride to present you our series of 20 interviews "
    "with personalities from the clusters and networks world: cluster managers, cluster policy "
    "makers or network leaders in various European countries.</p>"
    "<p>We learned from their experiences about the challenges encountered when it comes to "
    "creating gender equality, what levers are seen as possible to induce change towards a "
    "more gender-balanced and inclusive approach in companies, and about their personal "
    "motivation to support gender equality.</p>"
)


def ensure_archive(home: HomePage) -> NewsletterIndexPage:
    archive = NewsletterIndexPage.objects.child_of(home).first()
    if archive is None:
        archive = NewsletterIndexPage(
            title="Newsletter",
            slug="newsletter",
            intro="<p>Every issue of the PENELOPE newsletter.</p>",
        )
        home.add_child(instance=archive)
        archive.save_revision().publish()
    return archive


def issue_3_body(content: dict) -> list:
    handbook = content["handbook"]
    organisations = content["organisations"]
    talks, ewmd, conference, _launch = content["events"]
    return [
        (
            "good_practice",
            {
                "practice": handbook,
                "heading": (
                    "Our Gender Equality Training Handbook becomes itself a good practice "
                    "in Europe!"
                ),
                "text": HANDBOOK_STORY.format(
                    linkedin=LINKEDIN_URL,
                    austria=organisations["Austrian National Cluster Platform"].website,
                    eccp=organisations["European Cluster Collaboration Platform"].website,
                    recording=talks.recording_url,
                ),
                "show_cover": True,
                "button_label": "",
            },
        ),
        (
            "events",
            {
                "heading": "Where we presented the handbook",
                "intro": EVENTS_INTRO,
                "source": "chosen",
                "events": [talks, ewmd, conference],
                "count": 3,
            },
        ),
        ("divider", None),
        (
            "story",
            {
                "heading": "Our next actions",
                "text": NEXT_ACTIONS,
                "image": None,
                "image_alt": "",
                "button": {},
            },
        ),
        (
            "events",
            {
                "heading": "Save the date",
                "intro": "",
                "source": "upcoming",
                "events": [],
                "count": 3,
            },
        ),
        ("divider", None),
        (
            "interview_spotlight",
            {
                "heading": "We put under the spotlight our interviewees!",
                "intro": SPOTLIGHT_INTRO,
                "interviews": [
                    {"interview": interview, "quote": ""} for interview in content["interviews"]
                ],
                "link_label": "",
            },
        ),
    ]


def seed_newsletter(content: dict) -> dict:
    archive = ensure_archive(content["home"])
    issue = NewsletterPage.objects.child_of(archive).filter(issue_number=3).first()
    if issue is None:
        issue = NewsletterPage(
            title="Newsletter #3",
            slug="newsletter-3",
            issue_number=3,
            subject="PENELOPE newsletter #3: our handbook becomes a good practice in Europe",
            preheader="273 downloads, three events and four interviewees in the spotlight.",
            header_title=(
                "Cluster-based approach to integrate gender mainstreaming strategies "
                "in European SMEs"
            ),
            body=issue_3_body(content),
        )
        archive.add_child(instance=issue)
        issue.save_revision().publish()
    welcome = seed_welcome(archive)
    if issue.sent_at is None or issue.public_sent_at is None:
        # Issue #3 went out to the public demo list after the pages it reports were
        # published: the archive lists it, and "Draft the next issue" collects only what
        # editors publish from now on.
        issue.sent_at = issue.sent_at or timezone.now()
        issue.public_sent_at = issue.public_sent_at or issue.sent_at
        NewsletterPage.objects.filter(pk=issue.pk).update(
            sent_at=issue.sent_at, public_sent_at=issue.public_sent_at
        )
    return {"newsletter_index": archive, "newsletter": issue, "welcome": welcome}


def seed_welcome(archive: NewsletterIndexPage) -> NewsletterPage:
    """The demo list's welcome email: issue 0, outside the numbered series."""
    welcome = NewsletterPage.objects.child_of(archive).filter(issue_number=0).first()
    if welcome is None:
        welcome = NewsletterPage(
            title="Welcome to the PENELOPE newsletter",
            slug="welcome",
            issue_number=0,
            subject="Welcome to the PENELOPE newsletter",
            preheader="What you will receive from us, and how to change it.",
            header_title="Welcome",
            body=[
                (
                    "story",
                    {
                        "heading": "Thank you for subscribing",
                        "text": (
                            "<p>Every few weeks we send you the interviews, good practices "
                            "and events of the PENELOPE project: cluster-based gender "
                            "mainstreaming in European SMEs.</p><p>Past issues are in the "
                            "newsletter archive on our site. You can change your "
                            "preferences or leave with the links at the bottom of every "
                            "email.</p>"
                        ),
                        "button": {"label": "", "url": ""},
                    },
                ),
            ],
        )
        archive.add_child(instance=welcome)
        welcome.save_revision().publish()
    return welcome


# French ----------------------------------------------------------------------------
# Issue #3 for French readers: the PO messages of the English issue, source → French,
# written as the project's French communications officer would (see `cms.demo`). The
# handbook's title and the names of events and sessions stay as published.

ARCHIVE_FR = {
    "Newsletter": "Lettre d’information",
    "newsletter": "lettre-d-information",
    "Every issue of the PENELOPE newsletter.": (
        "Tous les numéros de la lettre d’information PENELOPE."
    ),
}

ISSUE_3_FR = {
    "Newsletter #3": f"Lettre d’information n°{NBSP}3",
    "newsletter-3": "lettre-d-information-3",
    "PENELOPE newsletter #3: our handbook becomes a good practice in Europe": (
        f"Lettre PENELOPE n°{NBSP}3{NBSP}: notre manuel devient une bonne pratique en Europe"
    ),
    "273 downloads, three events and four interviewees in the spotlight.": (
        "273 téléchargements, trois événements et quatre personnalités à l’honneur."
    ),
    ("Cluster-based approach to integrate gender mainstreaming strategies in European SMEs"): (
        "Une approche par les clusters pour intégrer l’égalité femmes-hommes dans les "
        "stratégies des PME européennes"
    ),
    "Our Gender Equality Training Handbook becomes itself a good practice in Europe!": (
        "Notre manuel de formation à l’égalité femmes-hommes devient à son tour une bonne "
        f"pratique en Europe{NBSP}!"
    ),
    (
        "Being a pioneer action, with its collection of good practices, interviews and "
        "development of a toolbox supporting companies towards gender mainstreaming, the "
        "PENELOPE ‘Gender Equality Training Handbook: Supporting European Clusters Towards "
        "Gender Mainstreaming’ has soon become a point of reference in the cluster community. "
        "In fact, between mid-February and mid-May 2024, it has been downloaded a whopping "
        "273 times!"
    ): (
        "Action pionnière, avec son recueil de bonnes pratiques, ses entretiens et sa boîte "
        "à outils pour accompagner les entreprises vers l’égalité femmes-hommes, le manuel "
        f"PENELOPE «{NBSP}Gender Equality Training Handbook: Supporting European Clusters "
        f"Towards Gender Mainstreaming{NBSP}» s’est vite imposé comme une référence dans la "
        "communauté des clusters. Entre mi-février et mi-mai 2024, il a été téléchargé pas "
        f"moins de 273 fois{NBSP}!"
    ),
    (
        "An intense promotion has also been done on social media, on our "
        '<a id="a1">LinkedIn profile</a> (with already 240+ followers) and on various other '
        'external media (<a id="a2">Austrian National Cluster Platform</a>, '
        '<a id="a3">European Cluster Collaboration Platform</a>, newsletters, among others).'
    ): (
        "Nous en avons aussi fait largement la promotion sur les réseaux sociaux, sur notre "
        '<a id="a1">page LinkedIn</a> (qui compte déjà plus de 240 abonnés) et dans divers '
        'médias externes (<a id="a2">Austrian National Cluster Platform</a>, '
        '<a id="a3">European Cluster Collaboration Platform</a>, lettres d’information, '
        "entre autres)."
    ),
    (
        "The handbook was introduced by our representative Lucia Seel in avant-première on "
        "January 2024 at the <b>EU Clusters Talks</b> organised by the European Cluster "
        "Collaboration Platform in a session dedicated to “Gender Equality for SME "
        "competitiveness and sustainability”, with more than 90 registered participants. You "
        'can watch the recording of the event <a id="a1">here</a>.'
    ): (
        "Notre représentante Lucia Seel a présenté le manuel en avant-première en janvier "
        "2024 lors des <b>EU Clusters Talks</b> organisés par l’European Cluster "
        f"Collaboration Platform, dans une session consacrée à «{NBSP}Gender Equality for SME "
        f"competitiveness and sustainability{NBSP}», devant plus de 90 participants inscrits. "
        'L’enregistrement de l’événement est disponible <a id="a1">ici</a>.'
    ),
    "Where we presented the handbook": "Où nous avons présenté le manuel",
    (
        "Our work was promoted as well to several European associations of women, and to the "
        "cluster community at the largest ever <b>European Cluster Conference</b>, where our "
        "flyers increased the visibility of the project. We will continue to show our "
        "presence in the newly created LinkedIn Group “Shared Value Through Clusters”."
    ): (
        "Nos travaux ont également été présentés à plusieurs associations européennes de "
        "femmes, ainsi qu’à la communauté des clusters lors de la plus grande "
        "<b>European Cluster Conference</b> jamais organisée, où nos dépliants ont renforcé "
        "la visibilité du projet. Nous resterons présents dans le groupe LinkedIn "
        f"«{NBSP}Shared Value Through Clusters{NBSP}», créé récemment."
    ),
    "Our next actions": "Nos prochaines actions",
    (
        "We entered the second phase of the PENELOPE Project which is dedicated to "
        "delivering a new <b>video toolkit on gender equality strategies for SMEs</b> that "
        "help them in building a gender-inclusive company culture. This toolkit will support "
        "them in developing their own internal strategies to solve potential gender "
        "inequities in the workplace, contributing to the basis of broad-based, long-term, "
        "and substantial reforms within the European SMEs landscape."
    ): (
        "Le projet PENELOPE est entré dans sa deuxième phase, consacrée à la réalisation "
        "d’une nouvelle <b>boîte à outils vidéo sur les stratégies d’égalité femmes-hommes "
        "pour les PME</b>, qui les aidera à bâtir une culture d’entreprise inclusive. Elle "
        "les accompagnera dans l’élaboration de leurs propres stratégies internes pour "
        "corriger d’éventuelles inégalités entre les femmes et les hommes au travail, et "
        "posera les bases de réformes profondes, durables et de grande ampleur dans le "
        "paysage des PME européennes."
    ),
    (
        "The creative work is under progress, and we are busy to finalise it by the summer "
        "in order to let it flow into the upcoming <b>Virtual Learning Environment</b>, an "
        "e-learning platform allowing cluster practitioners and SMEs to access free of "
        "charge after registration all materials from any type of devices. Stay tuned!"
    ): (
        f"Le travail de création est en cours{NBSP}: nous mettons tout en œuvre pour le "
        "finaliser d’ici l’été et l’intégrer au futur <b>Virtual Learning Environment</b>, "
        "une plateforme d’apprentissage en ligne où professionnels des clusters et PME "
        "pourront, après inscription, accéder gratuitement à tous les contenus depuis "
        f"n’importe quel appareil. Restez à l’écoute{NBSP}!"
    ),
    "Save the date": "À vos agendas",
    "We put under the spotlight our interviewees!": (
        f"Coup de projecteur sur les personnalités interviewées{NBSP}!"
    ),
    (
        "As in our past newsletter, we take pride to present you our series of 20 interviews "
        "with personalities from the clusters and networks world: cluster managers, cluster "
        "policy makers or network leaders in various European countries."
    ): (
        "Comme dans notre précédente lettre, nous sommes fiers de vous présenter notre série "
        "de 20 entretiens avec des personnalités du monde des clusters et des réseaux"
        f"{NBSP}: responsables de clusters, décideurs des politiques de clusters ou "
        "dirigeants de réseaux dans différents pays européens."
    ),
    (
        "We learned from their experiences about the challenges encountered when it comes to "
        "creating gender equality, what levers are seen as possible to induce change towards "
        "a more gender-balanced and inclusive approach in companies, and about their personal "
        "motivation to support gender equality."
    ): (
        "Leur expérience nous éclaire sur les difficultés rencontrées pour faire progresser "
        "l’égalité femmes-hommes, sur les leviers qui peuvent amener les entreprises vers une "
        "approche plus équilibrée et plus inclusive, et sur ce qui les pousse personnellement "
        "à s’engager en faveur de l’égalité."
    ),
}


def seed_french_newsletter(content: dict) -> dict:
    """The archive and issue #3 in French: its interview spotlight points at the French
    interviews (`cms.localisation`), its handbook and events stay the English pages."""
    from cms.translating import translate_from_po

    french = content["locales"]["fr"]
    archive_fr = translate_from_po(content["newsletter_index"], french, ARCHIVE_FR)
    issue = content["newsletter"]
    issue_fr = translate_from_po(issue, french, ISSUE_3_FR)
    if (issue_fr.sent_at, issue_fr.public_sent_at) != (issue.sent_at, issue.public_sent_at):
        # Sent with the English issue (one campaign, each reader in their language).
        NewsletterPage.objects.filter(pk=issue_fr.pk).update(
            sent_at=issue.sent_at, public_sent_at=issue.public_sent_at
        )
        issue_fr.refresh_from_db()
    return {"newsletter_index_fr": archive_fr, "newsletter_fr": issue_fr}
