"""The ESP capability table (``transports.esp.ESPS``) agrees with anymail's backends.

Each claim of the table is tried on the ESP's real anymail backend, which builds (but
does not post) the payload: an anymail upgrade that changes what an ESP accepts fails
here instead of wedging a campaign.
"""

import importlib
import pkgutil

import anymail.backends
import pytest
from anymail.exceptions import AnymailUnsupportedFeature
from django.core.mail import EmailMultiAlternatives

from mailing.sending.transports import esp
from tests.mailing.esp.providers import ALL

# Not ESPs: anymail's shared code, its test and console backends, and an old alias.
NOT_ESPS = {"base", "base_requests", "console", "test", *esp.ALIASES}
# ESPs that take merge data only into templates stored at the ESP.
TEMPLATES_ONLY = {"mailtrap"}
TO = ["ada@example.com", "Bé <be@example.com>"]


def anymail_esps():
    return {m.name for m in pkgutil.iter_modules(anymail.backends.__path__)} - NOT_ESPS


def test_the_table_lists_every_esp_anymail_supports():
    assert anymail_esps() == set(esp.ESPS) - {"test"}
    assert {p.name for p in ALL} == anymail_esps()


def accepts(settings, name, *, to=TO[:1], **attrs) -> bool:
    """Whether anymail's backend for ``name`` builds a payload with these attributes."""
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        **next(p for p in ALL if p.name == name).settings("http://127.0.0.1:9/"),
    }
    backend = importlib.import_module(f"anymail.backends.{name}").EmailBackend()
    message = EmailMultiAlternatives(
        "Subject", "text", "PENELOPE <news@example.org>", to, headers={"List-Id": "<x.y>"}
    )
    message.attach_alternative("<p>html</p>", "text/html")
    for key, value in attrs.items():
        setattr(message, key, value)
    try:
        payload = backend.build_message_payload(message, backend.send_defaults)
        for step in ("serialize_data", "get_api_endpoint"):
            if hasattr(payload, step):
                getattr(payload, step)()
    except AnymailUnsupportedFeature:
        return False
    return True


def batch(**extra):
    return {
        "to": TO,
        "merge_data": {"ada@example.com": {"name": "Ada"}, "be@example.com": {"name": "Bé"}},
        "merge_global_data": {"web_url": "https://cms.example.org/newsletters/1/"},
        "merge_metadata": {
            "ada@example.com": {"delivery": "1"},
            "be@example.com": {"delivery": "2"},
        },
        **extra,
    }


HEADERS = {
    "merge_headers": {
        "ada@example.com": {"List-Unsubscribe": "<https://cms.example.org/u/1/>"},
        "be@example.com": {"List-Unsubscribe": "<https://cms.example.org/u/2/>"},
    }
}


@pytest.mark.parametrize("name", sorted(anymail_esps()))
def test_each_claim_of_the_table_holds_for_anymails_backend(name, settings):
    caps = esp.ESPS[name]
    # Tags: as many as the table says are accepted; where anymail allows only one, the
    # table says one (others' limits, e.g. Mailgun's 3, come from the ESP's own docs).
    assert accepts(settings, name, tags=[f"t{i}" for i in range(caps.tags or 10)])
    if not accepts(settings, name, tags=["a", "b"]):
        assert caps.tags == 1
    assert accepts(settings, name, metadata={"campaign": "1", "delivery": "2"}) == caps.metadata
    merges = accepts(settings, name, **batch())
    headers = accepts(settings, name, **batch(**HEADERS))
    if caps.merge_field is not None:
        assert merges and caps.batch_size > 1
    elif merges and name not in TEMPLATES_ONLY:
        # anymail can batch merge data here: the table must say why we do not.
        assert not headers, f"{name}: anymail batches merge data and headers"
    assert caps.merge_headers == (headers and caps.merge_field is not None)
    assert caps.batches == (caps.merge_field is not None and headers)


def test_a_campaigns_tags_fit_the_esp():
    from mailing.models import Campaign

    campaign = Campaign(pk=7)
    assert esp.tags(campaign, esp.ESPS["postmark"]) == ["campaign-7"]
    assert esp.tags(campaign, esp.ESPS["mailgun"]) == ["campaign-7", "newsletter"]
    assert esp.capabilities("anymail.backends.sendinblue.EmailBackend") is esp.ESPS["brevo"]
    assert esp.capabilities("django.core.mail.backends.smtp.EmailBackend") is esp.PLAIN
