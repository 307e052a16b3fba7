"""Each ESP anymail supports, as its API documentation describes it, for the stand-in.

For every ESP: the settings that point anymail's real backend at the stand-in, its
answers (success, a refused key, a refused recipient, throttling, an outage) in the
shapes its API reference gives, and ``posted``: what one request asked the ESP to
send, per recipient, so that tests can check recipients, headers, metadata and tags.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.utils import getaddresses
from urllib.parse import quote


@dataclass
class Posted:
    """One recipient's message as a request asked the ESP to send it."""

    to: str
    headers: dict  # header name (lower case) → value, per-recipient ones resolved
    metadata: dict
    tags: list
    text: str  # the text part, with merge fields where the ESP fills them in
    values: dict = field(default_factory=dict)  # merge data for this recipient


def _addr(value):
    return getaddresses([value])[0][1].lower() if isinstance(value, str) else value.lower()


def _lower(headers):
    return {k.lower(): v for k, v in (headers or {}).items()}


def _json(text):
    return json.loads(text) if text else {}


def _new_id():
    return str(uuid.uuid4())


def jsonerror(status, message, **extra):
    return lambda request: (status, {"message": message, **extra})


@dataclass
class Provider:
    name: str  # anymail's backend module
    settings: Callable  # stand-in URL → ANYMAIL settings
    ok: Callable  # request → answer
    refused_key: Callable
    reject: Callable  # (request, address) → answer refusing that address
    posted: Callable  # request → [Posted]
    throttled: Callable = jsonerror(429, "Too many requests")
    down: Callable = jsonerror(503, "Service unavailable")
    webhook: str = ""  # its tracking webhook's path under /anymail/


def contains(request, address):
    """Whether the request names ``address`` (as JSON or form data)."""
    body = request.body.lower()
    return any(form.encode() in body for form in (address.lower(), quote(address).lower()))


# --- Postmark (postmarkapp.com/developer/api/email-api) ----------------------------------


POSTMARK_BAD_TOKEN = (
    "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
)


def _postmark_posted(request):
    body = request.json()
    return [
        Posted(
            to=_addr(body["To"]),
            headers={h["Name"].lower(): h["Value"] for h in body.get("Headers", [])},
            metadata=body.get("Metadata", {}),
            tags=[body["Tag"]] if body.get("Tag") else [],
            text=body["TextBody"],
        )
    ]


POSTMARK = Provider(
    name="postmark",
    settings=lambda url: {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": url},
    ok=lambda r: (
        200,
        {
            "To": r.json()["To"],
            "SubmittedAt": "2026-12-01T09:00:00.0000000Z",
            "MessageID": _new_id(),
            "ErrorCode": 0,
            "Message": "OK",
        },
    ),
    refused_key=lambda r: (
        401,
        {
            "ErrorCode": 10,
            "Message": POSTMARK_BAD_TOKEN,
        },
    ),
    reject=lambda r, address: (
        422,
        {
            "ErrorCode": 406,
            "Message": "You tried to send to recipient(s) that have been marked as inactive. "
            f"Found inactive addresses: {address}. Inactive recipients are ones that have "
            "generated a hard bounce, a spam complaint, or a manual suppression.",
        },
    ),
    throttled=lambda r: (429, {"ErrorCode": 429, "Message": "Rate limit exceeded."}),
    down=lambda r: (500, {"ErrorCode": 0, "Message": "Internal server error."}),
    posted=_postmark_posted,
    webhook="postmark/tracking/",
)


# --- Brevo (developers.brevo.com/reference/sendtransacemail) ---------------------------


def _brevo_posted(request):
    body = request.json()
    shared = _lower(body.get("headers"))
    versions = body.get("messageVersions") or [{"to": body["to"]}]
    out = []
    for version in versions:
        headers = {**shared, **_lower(version.get("headers"))}
        out.append(
            Posted(
                to=version["to"][0]["email"].lower(),
                headers=headers,
                metadata=_json(headers.get("x-mailin-custom")),
                tags=body.get("tags", []),
                text=body["textContent"],
                values={**body.get("params", {}), **version.get("params", {})},
            )
        )
    return out


def _brevo_ok(request):
    body = request.json()
    if body.get("messageVersions"):
        ids = [f"<{_new_id()}@smtp-relay.mailin.fr>" for _ in body["messageVersions"]]
        return 201, {"messageIds": ids}
    return 201, {"messageId": f"<{_new_id()}@smtp-relay.mailin.fr>"}


BREVO = Provider(
    name="brevo",
    settings=lambda url: {"BREVO_API_KEY": "xkeysib-test", "BREVO_API_URL": url},
    ok=_brevo_ok,
    refused_key=lambda r: (401, {"code": "unauthorized", "message": "Key not found"}),
    reject=lambda r, address: (
        400,
        {"code": "invalid_parameter", "message": "email is not valid in to"},
    ),
    throttled=lambda r: (429, {"code": "too_many_requests", "message": "Too many requests"}),
    down=lambda r: (500, {"code": "internal_error", "message": "Internal server error"}),
    posted=_brevo_posted,
    webhook="brevo/tracking/",
)


# --- Mailgun (documentation.mailgun.com, Messages API) ---------------------------------


def _mailgun_posted(request):
    form = request.form()
    variables = _json((form.get("recipient-variables") or [""])[0])
    out = []
    for to in form["to"]:
        address = _addr(to)
        mine = {k.lower(): v for k, v in variables.items()}.get(address, {})

        def value(raw, mine=mine):
            # %recipient.KEY% stands for this recipient's recipient-variables KEY.
            if raw.startswith("%recipient.") and raw.endswith("%"):
                return mine.get(raw[len("%recipient.") : -1], raw)
            return raw

        out.append(
            Posted(
                to=address,
                headers={k[2:].lower(): value(v[0]) for k, v in form.items() if k.startswith("h:")},
                metadata={k[2:]: value(v[0]) for k, v in form.items() if k.startswith("v:")},
                tags=form.get("o:tag", []),
                text=form["text"][0],
                values=mine,
            )
        )
    return out


MAILGUN = Provider(
    name="mailgun",
    settings=lambda url: {"MAILGUN_API_KEY": "key-test", "MAILGUN_API_URL": url + "v3/"},
    ok=lambda r: (
        200,
        {"id": f"<{_new_id()}@example.org>", "message": "Queued. Thank you."},
    ),
    refused_key=lambda r: (401, "Forbidden", {"Content-Type": "text/plain"}),
    reject=lambda r, address: (
        400,
        {"message": "to parameter is not a valid address. please check documentation"},
    ),
    posted=_mailgun_posted,
    webhook="mailgun/tracking/",
)


# --- Mailjet (dev.mailjet.com/email/reference/send-emails, v3.1) ------------------------


def _mailjet_posted(request):
    body = request.json()
    shared = body.get("Globals", {})
    out = []
    for message in body["Messages"]:
        merged = {**shared, **message}
        out.append(
            Posted(
                to=message["To"][0]["Email"].lower(),
                headers={**_lower(shared.get("Headers")), **_lower(message.get("Headers"))},
                metadata=_json(merged.get("EventPayload")),
                tags=[merged["CustomCampaign"]] if merged.get("CustomCampaign") else [],
                text=merged["TextPart"],
                values={**shared.get("Variables", {}), **message.get("Variables", {})},
            )
        )
    return out


def _mailjet_result(message, error=False):
    if error:
        return {
            "Status": "error",
            "Errors": [
                {
                    "ErrorIdentifier": _new_id(),
                    "ErrorCode": "mj-0013",
                    "StatusCode": 400,
                    "ErrorMessage": f'"{message["To"][0]["Email"]}" is an invalid email address.',
                    "ErrorRelatedTo": ["To[0].Email"],
                }
            ],
        }
    to = message["To"][0]["Email"]
    number = uuid.uuid4().int % 10**16
    return {
        "Status": "success",
        "CustomID": "",
        "To": [
            {
                "Email": to,
                "MessageUUID": _new_id(),
                "MessageID": number,
                "MessageHref": f"https://api.mailjet.com/v3/REST/message/{number}",
            }
        ],
        "Cc": [],
        "Bcc": [],
    }


MAILJET = Provider(
    name="mailjet",
    settings=lambda url: {
        "MAILJET_API_KEY": "public",
        "MAILJET_SECRET_KEY": "secret",
        "MAILJET_API_URL": url + "v3.1/",
    },
    ok=lambda r: (200, {"Messages": [_mailjet_result(m) for m in r.json()["Messages"]]}),
    refused_key=lambda r: (
        401,
        {
            "ErrorIdentifier": _new_id(),
            "StatusCode": 401,
            "ErrorMessage": "API key authentication/authorization failure. You may be "
            "unauthorized to access the API or your API key may be expired.",
        },
    ),
    reject=lambda r, address: (
        400,
        {
            "Messages": [
                _mailjet_result(m, error=m["To"][0]["Email"].lower() == address)
                for m in r.json()["Messages"]
            ]
        },
    ),
    throttled=lambda r: (429, {"ErrorMessage": "Too many requests", "StatusCode": 429}),
    down=lambda r: (500, {"ErrorMessage": "Internal server error", "StatusCode": 500}),
    posted=_mailjet_posted,
    webhook="mailjet/tracking/",
)


# --- Mailtrap (api-docs.mailtrap.io, Email Sending API) ---------------------------------


def _mailtrap_posted(request):
    body = request.json()
    return [
        Posted(
            to=body["to"][0]["email"].lower(),
            headers=_lower(body.get("headers")),
            metadata=body.get("custom_variables", {}),
            tags=[body["category"]] if body.get("category") else [],
            text=body["text"],
        )
    ]


MAILTRAP = Provider(
    name="mailtrap",
    settings=lambda url: {"MAILTRAP_API_TOKEN": "token", "MAILTRAP_API_URL": url},
    ok=lambda r: (200, {"success": True, "message_ids": [_new_id()]}),
    refused_key=lambda r: (401, {"success": False, "errors": ["Unauthorized"]}),
    reject=lambda r, address: (
        400,
        {"success": False, "errors": [f"'to' address is invalid: {address}"]},
    ),
    throttled=lambda r: (429, {"success": False, "errors": ["Rate limit exceeded"]}),
    down=lambda r: (500, {"success": False, "errors": ["Internal Server Error"]}),
    posted=_mailtrap_posted,
    webhook="mailtrap/tracking/",
)


# --- Mandrill (mailchimp.com/developer/transactional/api/messages/send-new-message) -----


def _mandrill_posted(request):
    message = request.json()["message"]
    return [
        Posted(
            to=message["to"][0]["email"].lower(),
            headers=_lower(message.get("headers")),
            metadata=message.get("metadata", {}),
            tags=message.get("tags", []),
            text=message["text"],
        )
    ]


def _mandrill_result(request, rejected=""):
    message = request.json()["message"]
    return 200, [
        {
            "email": to["email"],
            "status": "rejected" if to["email"].lower() == rejected else "sent",
            "_id": uuid.uuid4().hex,
            "reject_reason": "hard-bounce" if to["email"].lower() == rejected else None,
        }
        for to in message["to"]
    ]


MANDRILL = Provider(
    name="mandrill",
    settings=lambda url: {"MANDRILL_API_KEY": "md-test", "MANDRILL_API_URL": url},
    ok=_mandrill_result,
    # Mandrill answers a bad key with HTTP 500 and the error's name.
    refused_key=lambda r: (
        500,
        {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"},
    ),
    reject=_mandrill_result,
    down=lambda r: (
        500,
        {
            "status": "error",
            "code": -2,
            "name": "GeneralError",
            "message": "An unexpected error occurred",
        },
    ),
    posted=_mandrill_posted,
    webhook="mandrill/",
)


# --- Postal (docs.postalserver.io, legacy HTTP API send/message) ------------------------


def _postal_posted(request):
    body = request.json()
    return [
        Posted(
            to=_addr(body["to"][0]),
            headers=_lower(body.get("headers")),
            metadata={},
            tags=[body["tag"]] if body.get("tag") else [],
            text=body["plain_body"],
        )
    ]


POSTAL = Provider(
    name="postal",
    settings=lambda url: {"POSTAL_API_KEY": "server-key", "POSTAL_API_URL": url},
    ok=lambda r: (
        200,
        {
            "status": "success",
            "time": 0.05,
            "flags": {},
            "data": {
                "message_id": f"{_new_id()}@rp.postal.example.org",
                "messages": {
                    _addr(to): {"id": uuid.uuid4().int % 10**6, "token": uuid.uuid4().hex[:12]}
                    for to in r.json()["to"]
                },
            },
        },
    ),
    refused_key=lambda r: (
        200,
        {
            "status": "error",
            "time": 0.0,
            "flags": {},
            "data": {
                "code": "InvalidServerAPIKey",
                "message": "The API token provided in X-Server-API-Key was not valid.",
                "token": "server-key",
            },
        },
    ),
    reject=lambda r, address: (
        200,
        {
            "status": "parameter-error",
            "time": 0.0,
            "flags": {},
            "data": {"message": f"The address {address} is not valid"},
        },
    ),
    posted=_postal_posted,
    webhook="postal/tracking/",
)


# --- Resend (resend.com/docs/api-reference/emails/send-email) ---------------------------


def _resend_posted(request):
    body = request.json()
    headers = _lower(body.get("headers"))
    return [
        Posted(
            to=_addr(body["to"][0]),
            headers=headers,
            metadata=_json(headers.get("x-metadata")),
            tags=_json(headers.get("x-tags")) or [],
            text=body["text"],
        )
    ]


RESEND = Provider(
    name="resend",
    settings=lambda url: {"RESEND_API_KEY": "re_test", "RESEND_API_URL": url},
    ok=lambda r: (200, {"id": _new_id()}),
    refused_key=lambda r: (
        403,
        {"statusCode": 403, "message": "API key is invalid", "name": "invalid_api_key"},
    ),
    reject=lambda r, address: (
        422,
        {
            "statusCode": 422,
            "message": "Invalid `to` field. The email address needs to follow the "
            "`email@example.com` or `Name <email@example.com>` format.",
            "name": "validation_error",
        },
    ),
    throttled=lambda r: (
        429,
        {"statusCode": 429, "message": "Too many requests", "name": "rate_limit_exceeded"},
    ),
    down=lambda r: (
        500,
        {"statusCode": 500, "message": "Internal server error", "name": "internal_server_error"},
    ),
    posted=_resend_posted,
    webhook="resend/tracking/",
)


# --- Scaleway TEM (www.scaleway.com/en/developers/api/transactional-email) --------------


def _scaleway_posted(request):
    body = request.json()
    headers = {h["key"].lower(): h["value"] for h in body.get("additional_headers", [])}
    return [
        Posted(
            to=body["to"][0]["email"].lower(),
            headers=headers,
            metadata=_json(headers.get("x-metadata")),
            tags=_json(headers.get("x-tags")) or [],
            text=body["text"],
        )
    ]


SCALEWAY = Provider(
    name="scaleway",
    settings=lambda url: {
        "SCALEWAY_SECRET_KEY": "scw-secret",
        "SCALEWAY_PROJECT_ID": "00000000-0000-0000-0000-000000000000",
        "SCALEWAY_API_URL": url,
    },
    ok=lambda r: (
        200,
        {
            "emails": [
                {
                    "id": _new_id(),
                    "message_id": _new_id(),
                    "project_id": r.json()["project_id"],
                    "mail_from": r.json()["from"]["email"],
                    "mail_rcpt": to["email"],
                    "rcpt_to": to["email"],
                    "rcpt_type": "to",
                    "subject": r.json()["subject"],
                    "created_at": "2026-12-01T09:00:00Z",
                    "status": "new",
                    "try_count": 0,
                }
                for to in r.json()["to"]
            ]
        },
    ),
    refused_key=lambda r: (
        401,
        {
            "message": "authentication is denied",
            "method": "api_key",
            "reason": "invalid_argument",
            "type": "denied_authentication",
        },
    ),
    reject=lambda r, address: (
        400,
        {
            "message": "invalid argument(s)",
            "type": "invalid_arguments",
            "details": [{"argument_name": "to.email", "reason": "constraint"}],
        },
    ),
    posted=_scaleway_posted,
)


# --- SendGrid (www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send) ----------


def _sendgrid_posted(request):
    body = request.json()
    out = []
    for personalization in body["personalizations"]:
        out.append(
            Posted(
                to=personalization["to"][0]["email"].lower(),
                headers={**_lower(body.get("headers")), **_lower(personalization.get("headers"))},
                metadata={**body.get("custom_args", {}), **personalization.get("custom_args", {})},
                tags=body.get("categories", []),
                text=body["content"][0]["value"],
                values=personalization.get("substitutions", {}),
            )
        )
    return out


SENDGRID = Provider(
    name="sendgrid",
    settings=lambda url: {"SENDGRID_API_KEY": "SG.test", "SENDGRID_API_URL": url},
    ok=lambda r: (202, b""),
    refused_key=lambda r: (
        401,
        {
            "errors": [
                {
                    "field": None,
                    "message": "The provided authorization grant is invalid, expired, or revoked",
                    "help": None,
                }
            ]
        },
    ),
    reject=lambda r, address: (
        400,
        {
            "errors": [
                {
                    "message": "Does not contain a valid address.",
                    "field": "personalizations.0.to.0.email",
                    "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html",
                }
            ]
        },
    ),
    throttled=lambda r: (429, {"errors": [{"field": None, "message": "too many requests"}]}),
    down=lambda r: (503, {"errors": [{"field": None, "message": "service unavailable"}]}),
    posted=_sendgrid_posted,
    webhook="sendgrid/tracking/",
)


# --- SparkPost (developers.sparkpost.com/api/transmissions) -----------------------------


def _sparkpost_posted(request):
    body = request.json()
    content = body["content"]
    out = []
    for recipient in body["recipients"]:
        data = {**body.get("substitution_data", {}), **recipient.get("substitution_data", {})}
        headers = {}
        for name, value in _lower(content.get("headers")).items():
            # {{Header__List_Unsubscribe}}: a header filled from substitution data.
            if value.startswith("{{") and value.endswith("}}"):
                value = data.get(value[2:-2].strip(), value)
            headers[name] = value
        out.append(
            Posted(
                to=recipient["address"]["email"].lower(),
                headers=headers,
                metadata={**body.get("metadata", {}), **recipient.get("metadata", {})},
                tags=[body["campaign_id"]] if body.get("campaign_id") else [],
                text=content["text"],
                values=data,
            )
        )
    return out


SPARKPOST = Provider(
    name="sparkpost",
    settings=lambda url: {"SPARKPOST_API_KEY": "sp-test", "SPARKPOST_API_URL": url},
    ok=lambda r: (
        200,
        {
            "results": {
                "total_rejected_recipients": 0,
                "total_accepted_recipients": len(r.json()["recipients"]),
                "id": str(uuid.uuid4().int % 10**17),
            }
        },
    ),
    refused_key=lambda r: (401, {"errors": [{"message": "Unauthorized."}]}),
    reject=lambda r, address: (
        422,
        {
            "errors": [
                {
                    "message": "invalid data format/type",
                    "description": f"Invalid email address: {address}",
                    "code": "1300",
                }
            ]
        },
    ),
    posted=_sparkpost_posted,
    webhook="sparkpost/tracking/",
)


# --- Unisender Go (godocs.unisender.ru/web-api-ref#email-send) --------------------------


def _unisender_posted(request):
    message = request.json()["message"]
    out = []
    for recipient in message["recipients"]:
        data = {**message.get("global_substitutions", {}), **recipient.get("substitutions", {})}
        headers = {}
        for name, value in _lower(message.get("headers")).items():
            if value.startswith("{{") and value.endswith("}}"):
                value = data.get(value[2:-2], value)
            headers[name] = value
        out.append(
            Posted(
                to=recipient["email"].lower(),
                headers=headers,
                metadata={**message.get("global_metadata", {}), **recipient.get("metadata", {})},
                tags=message.get("tags", []),
                text=message["body"]["plaintext"],
                values=data,
            )
        )
    return out


def _unisender_answer(request, rejected=""):
    emails = [r["email"] for r in request.json()["message"]["recipients"]]
    answer = {
        "status": "success",
        "job_id": "1ZymBc-00041N-9X",
        "emails": [e for e in emails if e.lower() != rejected],
    }
    if rejected:
        answer["failed_emails"] = {e: "invalid" for e in emails if e.lower() == rejected}
    return 200, answer


UNISENDER_GO = Provider(
    name="unisender_go",
    settings=lambda url: {"UNISENDER_GO_API_KEY": "uni-test", "UNISENDER_GO_API_URL": url},
    ok=_unisender_answer,
    refused_key=lambda r: (
        403,
        {"status": "error", "message": "User with id 0 not found or API key is wrong", "code": 102},
    ),
    reject=_unisender_answer,
    posted=_unisender_posted,
    webhook="unisender_go/tracking/",
)


# --- MailerSend (developers.mailersend.com/api/v1/email.html) ---------------------------


def _mailersend_posted(request):
    body = request.json()
    return [
        Posted(
            to=body["to"][0]["email"].lower(),
            headers={h["name"].lower(): h["value"] for h in body.get("headers", [])},
            metadata={},
            tags=body.get("tags", []),
            text=body["text"],
        )
    ]


MAILERSEND = Provider(
    name="mailersend",
    settings=lambda url: {"MAILERSEND_API_TOKEN": "mlsn.test", "MAILERSEND_API_URL": url},
    ok=lambda r: (
        202,
        b"",
        {"Content-Type": "text/html; charset=UTF-8", "X-Message-Id": uuid.uuid4().hex[:24]},
    ),
    refused_key=lambda r: (401, {"message": "Unauthenticated."}),
    reject=lambda r, address: (
        422,
        {
            "message": "The to.0.email must be a valid email address.",
            "errors": {"to.0.email": ["The to.0.email must be a valid email address."]},
        },
    ),
    posted=_mailersend_posted,
    webhook="mailersend/tracking/",
)


# --- Amazon SES v2 through boto3 (docs.aws.amazon.com/ses/latest/APIReference-V2) -------


def _ses_posted(request):
    body = request.json()
    raw = base64.b64decode(body["Content"]["Raw"]["Data"])
    message = message_from_bytes(raw, policy=policy.default)
    return [
        Posted(
            to=_addr(body["Destination"]["ToAddresses"][0]),
            headers={k.lower(): str(v) for k, v in message.items()},
            metadata=_json(message.get("X-Metadata")),
            tags=message.get_all("X-Tag") or [],
            text=message.get_body(("plain",)).get_content(),
        )
    ]


def _ses_error(status, kind, text):
    return lambda *args: (status, {"message": text}, {"x-amzn-ErrorType": kind})


AMAZON_SES = Provider(
    name="amazon_ses",
    settings=lambda url: {
        "AMAZON_SES_CLIENT_PARAMS": {
            "endpoint_url": url,
            "region_name": "eu-west-1",
            "aws_access_key_id": "AKIATEST",
            "aws_secret_access_key": "secret",
            # One try: the campaign's own retries are what is being tested.
            "config": {"retries": {"total_max_attempts": 1}},
        }
    },
    ok=lambda r: (200, {"MessageId": f"0100018c-{uuid.uuid4().hex}-000000"}),
    refused_key=_ses_error(
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
    reject=lambda r, address: _ses_error(
        400,
        "MessageRejected",
        "Email address is not verified. The following identities failed the check in "
        f"region EU-WEST-1: {address}",
    )(),
    throttled=_ses_error(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    down=_ses_error(500, "InternalFailure", "An internal failure occurred."),
    posted=_ses_posted,
    webhook="amazon_ses/tracking/",
)


ALL = [
    AMAZON_SES,
    BREVO,
    MAILERSEND,
    MAILGUN,
    MAILJET,
    MAILTRAP,
    MANDRILL,
    POSTAL,
    POSTMARK,
    RESEND,
    SCALEWAY,
    SENDGRID,
    SPARKPOST,
    UNISENDER_GO,
]
BY_NAME = {p.name: p for p in ALL}
