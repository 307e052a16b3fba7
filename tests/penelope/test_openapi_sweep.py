"""A generated sweep of the public API from its description, `docs/openapi.yaml`, as the
application serves it at `/api/openapi.yaml`.

Schemathesis (Hypothesis underneath) sends valid and invalid requests to every
operation, in-process through the WSGI application on the demo content, and checks
each answer: never a 5xx, and status code, content type, headers and JSON body as the
description says. Token endpoints are tried with the generated token and again with a
real one, so the generated bodies reach the code behind them. The sweep is
deterministic (the same examples every run); `API_SWEEP_EXAMPLES` sets how many per
operation and mode.
"""

import os

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from penelope.wsgi import application

EXAMPLES = int(os.environ.get("API_SWEEP_EXAMPLES", "15"))
CONFIG = SchemathesisConfig.from_dict(
    {"generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True}}
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.yaml", application, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_content(django_db_setup, django_db_blocker):
    """The demo content, seeded once for every operation and rolled back at the end; each
    operation's own changes roll back after it (the `db` fixture's savepoint)."""
    from penelope import demo

    with django_db_blocker.unblock(), transaction.atomic():
        yield demo.seed_all()
        transaction.set_rollback(True)


@pytest.fixture
def sweep_site(demo_content, db, settings):
    """The WSGI calls share the test's transaction, as with Django's test client (which
    also keeps the request signals from closing the connection)."""
    settings.SUBSCRIPTION_RATE_PER_IP = 10**6  # reach the code behind the limit
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield demo_content
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def real_token(path: str, mailing_list) -> str:
    """A valid token for the operation at `path`, for a new subscriber each time."""
    from mailing import tokens
    from mailing.models import Subscriber, Subscription

    subscriber = Subscriber.objects.create(email=f"sweep-{Subscriber.objects.count()}@example.org")
    pending = "/confirm/" in path
    Subscription.objects.create(
        subscriber=subscriber,
        mailing_list=mailing_list,
        status=Subscription.Status.PENDING if pending else Subscription.Status.CONFIRMED,
    )
    if pending:
        return tokens.make_token(tokens.CONFIRM, subscriber.pk, mailing_list.pk)
    if "/unsubscribe/" in path:
        return tokens.make_token(tokens.UNSUBSCRIBE, subscriber.pk, mailing_list.pk)
    return tokens.make_token(tokens.PREFERENCES, subscriber.pk)


HYPOTHESIS = hypothesis.settings(
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
    ],
)


def sweep(case, site):
    case.call_and_validate(app=application, checks=CHECKS)
    if "token" in (case.path_parameters or {}):
        case.path_parameters = {
            **case.path_parameters,
            "token": real_token(case.path, site["mailing_list"]),
        }
        case.call_and_validate(app=application, checks=CHECKS)


@schema.parametrize()
@HYPOTHESIS
def test_public_api_answers_as_described(case, sweep_site):
    sweep(case, sweep_site)
