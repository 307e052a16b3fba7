"""Helpers for the subscriber tests that are not fixtures."""

import json
import re

from django.test import TestCase

SIGNUP = "/api/subscriptions/"
#: The request's on_commit callbacks (the enqueued signup task, then the confirmation
#: task it queues) run as it returns, as they would after a real commit.
committed = TestCase.captureOnCommitCallbacks


def link_in(message, action):
    """The /subscriptions/<action>/<token>/ link in a message's text part, as a path."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://[^/\s]+(/subscriptions/{action}/[^\s]+/)", body)
    assert match, body
    return match.group(1)


def signup(client, ip="203.0.113.5", **data):
    """POST a JSON signup to the API as an external site would; runs what it enqueues."""
    with committed(execute=True):
        return client.post(
            SIGNUP,
            data=json.dumps(data),
            content_type="application/json",
            REMOTE_ADDR=ip,
            HTTP_ORIGIN="https://www.example.org",
        )
