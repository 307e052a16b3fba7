"""The four interviews of the seed newsletter (seed/newsletter-3.txt), with their index.

Names, roles, organisations and quotes are the seed's own; portraits are generated.
"""

from __future__ import annotations

from datetime import datetime

from cms.demo import NBSP, child_page, demo_image, initials_avatar
from interviews.models import InterviewIndexPage, InterviewPage

INTERVIEWS = [
    {
        "slug": "massimiliano-rumignani",
        "interviewee_name": "Massimiliano Rumignani",
        "role": "Project Manager",
        "organisation": "AMBIT",
        "country": "IT",
        "date": "2023-11-14",
        "pull_quote": (
            "Gender equality can represent a driver of efficiency and innovation that "
            "companies in the sector need to preserve and increase their competitiveness. "
            "I think the opportunities offered by the sector twin transition (green and "
            "digital) can support the deployment of gender equality approaches and policies."
        ),
    },
    {
        "slug": "andrea-luciana-marcu",
        "interviewee_name": "Andrea Luciana Marcu",
        "role": "Manager of the Center for Continuous Training and Technological Information",
        "organisation": "Danubius University",
        "country": "RO",
        "date": "2023-11-21",
        "pull_quote": (
            "It has been observed that when the work teams are made up of both female and "
            "male persons, in a balanced number, the solutions identified in solving the "
            "challenges are much more creative."
        ),
    },
    {
        "slug": "camille-esquerre",
        "interviewee_name": "Camille Esquerré",
        "role": "Deputy Director",
        "organisation": "Cluster Mecanic Vallée",
        "country": "FR",
        "date": "2023-12-05",
        "pull_quote": (
            "The role of the cluster is really to lead the network, provide information and "
            "raise awareness. As Mecanic Vallée has been running these collective "
            "awareness-raising initiatives for a long time, we can see that they have a real "
            "knock-on effect, in particular when companies are facing recruitment difficulties."
        ),
    },
    {
        "slug": "paivi-ekdahl",
        "interviewee_name": "Päivi Ekdahl",
        "role": "Development Director",
        "organisation": "Regional Council of Lapland",
        "country": "FI",
        "date": "2023-12-12",
        "pull_quote": (
            "We see digitalization, Industry 4.0, as one of the key solutions in increasing "
            "the interest of women towards basic industries. Via digitization of factories "
            "and the tasks that traditionally have been considered as “male-tasks”, it is "
            "possible to raise the interest of women."
        ),
    },
]


def seed_interviews(content: dict) -> dict:
    """The interviews index under the home page and one page per interviewee."""
    organisations = content["organisations"]
    interviews_index, _ = child_page(
        content["home"],
        InterviewIndexPage,
        "interviews",
        title="Interviews",
        intro="<p>Twenty personalities from the clusters and networks world.</p>",
    )
    interviews = []
    for data in INTERVIEWS:
        name = data["interviewee_name"]
        portrait = demo_image(f"Portrait of {name}", initials_avatar(name), f"Portrait of {name}")
        page, _ = child_page(
            interviews_index,
            InterviewPage,
            data["slug"],
            title=f"Interview with {name}",
            interviewee_name=name,
            role=data["role"],
            organisation=organisations[data["organisation"]],
            country=data["country"],
            portrait=portrait,
            pull_quote=data["pull_quote"],
            date=datetime.fromisoformat(data["date"]).date(),
            intro=(
                f"<p>{name} tells us about the challenges of creating gender equality, the "
                "levers that can induce change towards a more gender-balanced and inclusive "
                "approach in companies, and what motivates them personally.</p>"
            ),
            body=[
                (
                    "question_answer",
                    {
                        "question": "What challenges do you meet when creating gender equality?",
                        "answer": f"<p>{data['pull_quote']}</p>",
                    },
                ),
                ("quote", {"quote": data["pull_quote"], "attribution": name}),
            ],
        )
        interviews.append(page)
    return {"interviews": interviews}


# French ----------------------------------------------------------------------------
# Written for French readers, not glossed: names, organisations and what each person
# said stay exact (see `cms.demo` for how the translation is made).

INTERVIEWS_FR = {
    "massimiliano-rumignani": {
        "role": "Chef de projet",
        "pull_quote": (
            "L’égalité femmes-hommes peut être un moteur d’efficacité et d’innovation dont "
            "les entreprises du secteur ont besoin pour préserver et renforcer leur "
            "compétitivité. Je pense que les opportunités offertes par la double transition "
            "du secteur, verte et numérique, peuvent favoriser le déploiement de démarches et "
            "de politiques en faveur de l’égalité."
        ),
    },
    "andrea-luciana-marcu": {
        "role": "Responsable du Centre de formation continue et d’information technologique",
        "pull_quote": (
            "On a constaté que lorsque les équipes de travail réunissent des femmes et des "
            "hommes en nombre équilibré, les solutions trouvées pour relever les défis sont "
            "bien plus créatives."
        ),
    },
    "camille-esquerre": {
        "role": "Directrice adjointe",
        "pull_quote": (
            "Le rôle du cluster, c’est vraiment d’animer le réseau, d’informer et de "
            "sensibiliser. Comme Mecanic Vallée mène depuis longtemps ces actions collectives "
            "de sensibilisation, nous voyons qu’elles ont un véritable effet d’entraînement, "
            "en particulier quand les entreprises rencontrent des difficultés de recrutement."
        ),
    },
    "paivi-ekdahl": {
        "role": "Directrice du développement",
        "pull_quote": (
            "Nous voyons dans la numérisation, l’industrie 4.0, l’une des principales "
            "solutions pour éveiller l’intérêt des femmes pour les industries de base. En "
            f"numérisant les usines et les tâches traditionnellement considérées comme "
            f"«{NBSP}masculines{NBSP}», il est possible de susciter l’intérêt des femmes."
        ),
    },
}

INTERVIEWS_INDEX_FR = {
    "Interviews": "Entretiens",
    "interviews": "entretiens",
    "Twenty personalities from the clusters and networks world.": (
        "Vingt personnalités du monde des clusters et des réseaux."
    ),
}


def interview_strings_fr(data: dict) -> dict:
    """PO messages of one interview page (source → French)."""
    name = data["interviewee_name"]
    french = INTERVIEWS_FR[data["slug"]]
    return {
        f"Interview with {name}": f"Entretien avec {name}",
        data["slug"]: data["slug"],
        name: name,
        data["role"]: french["role"],
        data["pull_quote"]: french["pull_quote"],
        (
            f"{name} tells us about the challenges of creating gender equality, the levers "
            "that can induce change towards a more gender-balanced and inclusive approach in "
            "companies, and what motivates them personally."
        ): (
            f"{name} nous parle des difficultés rencontrées pour faire progresser l’égalité "
            "femmes-hommes, des leviers qui peuvent amener les entreprises vers une approche "
            "plus équilibrée et plus inclusive, et de ce qui motive son engagement personnel."
        ),
        "What challenges do you meet when creating gender equality?": (
            f"Quelles difficultés rencontrez-vous pour faire progresser l’égalité "
            f"femmes-hommes{NBSP}?"
        ),
    }


def seed_french_interviews(content: dict) -> dict:
    """The interviews index and the four interviews in French, published translations."""
    from cms.translating import translate_from_po

    french = content["locales"]["fr"]
    index = content["interviews"][0].get_parent().specific
    index_fr = translate_from_po(index, french, INTERVIEWS_INDEX_FR)
    by_slug = {data["slug"]: data for data in INTERVIEWS}
    interviews_fr = [
        translate_from_po(page, french, interview_strings_fr(by_slug[page.slug]))
        for page in content["interviews"]
    ]
    return {"interviews_index_fr": index_fr, "interviews_fr": interviews_fr}
