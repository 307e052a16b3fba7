"""Factories for the audience: lists, subscribers and their subscriptions."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from mailing.models import MailingList, Subscriber, Subscription


class MailingListFactory(DjangoModelFactory):
    class Meta:
        model = MailingList

    name = factory.Sequence(lambda n: f"List {n}")
    slug = factory.Sequence(lambda n: f"list-{n}")


class SubscriberFactory(DjangoModelFactory):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Sequence(lambda n: f"Person {n}")


class SubscriptionFactory(DjangoModelFactory):
    """A confirmed subscription (``pending=True`` for one awaiting confirmation)."""

    class Meta:
        model = Subscription

    subscriber = factory.SubFactory(SubscriberFactory)
    mailing_list = factory.SubFactory(MailingListFactory)
    status = Subscription.Status.CONFIRMED
    confirmed_at = factory.LazyFunction(timezone.now)

    class Params:
        pending = factory.Trait(status=Subscription.Status.PENDING, confirmed_at=None)
