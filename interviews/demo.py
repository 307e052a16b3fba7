"""The four interviews of the seed newsletter (seed/newsletter-3.txt), with their index.

Names, roles, organisations and quotes are the seed's own; portraits are generated.
"""

from __future__ import annotations

from datetime import datetime

from cms.demo import child_page, demo_image, initials_avatar
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
