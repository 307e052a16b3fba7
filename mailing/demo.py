"""A demo list with a few confirmed subscribers, one in each of several languages: issue
#3 goes to each in theirs where a translation is live (French), else in English."""

from django.utils import timezone

from mailing.models import MailingList, Subscriber, SubscriberEvent, Subscription

DEMO_SUBSCRIBERS = [
    ("lucia.seel@example.org", "Lucia Seel", "de"),
    ("raquel.ortega@example.org", "Raquel Ortega Martínez", "es"),
    ("mirela.puiu@example.org", "Mirela Greti Puiu", "ro"),
    ("newsletter-reader@example.com", "", "en"),
    ("camille.durand@example.org", "Camille Durand", "fr"),
    ("giulia.bianchi@example.org", "Giulia Bianchi", "it"),
    ("aino.virtanen@example.org", "Aino Virtanen", "fi"),
    ("pieter.claes@example.org", "Pieter Claes", "nl"),
]


def seed_mailing(content: dict) -> dict:
    mailing_list, _ = MailingList.objects.get_or_create(
        slug="newsletter",
        defaults={
            "name": "PENELOPE newsletter",
            "description": "News, interviews and events of the PENELOPE project.",
            "from_name": "PENELOPE",
            "from_email": "newsletter@example.org",
            "consent_text": "I would like to receive the PENELOPE newsletter by email. "
            "I can unsubscribe at any time with the link in every issue.",
        },
    )
    if mailing_list.welcome_issue_id is None and content.get("welcome") is not None:
        mailing_list.welcome_issue = content["welcome"]
        mailing_list.save(update_fields=["welcome_issue"])
    for email, name, language in DEMO_SUBSCRIBERS:
        subscriber, _ = Subscriber.objects.get_or_create(
            email=email, defaults={"name": name, "language": language}
        )
        _subscription, created = Subscription.objects.get_or_create(
            subscriber=subscriber,
            mailing_list=mailing_list,
            defaults={
                "status": Subscription.Status.CONFIRMED,
                "confirmed_at": timezone.now(),
                "source": "seed_demo",
                "consent_text": "Demo subscriber created by seed_demo.",
            },
        )
        if created:
            for kind in (SubscriberEvent.Kind.SUBSCRIBED, SubscriberEvent.Kind.CONFIRMED):
                SubscriberEvent.objects.create(
                    subscriber=subscriber, mailing_list=mailing_list, kind=kind, source="seed_demo"
                )
    return {"mailing_list": mailing_list}
