"""Helpers for the subscriber tests that are not fixtures."""

import re


def link_in(message, action):
    """The /subscriptions/<action>/<token>/ link in a message's text part, as a path."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://[^/\s]+(/subscriptions/{action}/[^\s]+/)", body)
    assert match, body
    return match.group(1)
