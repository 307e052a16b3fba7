"""Each ESP's tracking webhooks, written from its own documentation, signed as it signs.

``HOOKS[name].event(kind, ctx)`` is the payload that ESP posts for ``kind``
(``"engaged"``: delivered or opened, ``"soft"``, ``"hard"``, ``"complaint"``, ``"policy"``
when the ESP reports it apart), about the message of ``ctx`` (address, campaign,
delivery, provider message id). ``HOOKS[name].post(client, payload, forged=False)``
sends it as the ESP would: basic auth (``ANYMAIL_WEBHOOK_SECRET``) and, where the ESP
signs, its signature; ``forged`` spoils the signature (or the password).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

SECRET = "hook:secret-for-tests"
WRONG = "hook:guessed"
NOW = 1764579900  # 2025-12-01 09:05 UTC
ISO = "2025-12-01T09:05:00Z"

SOFT_SMTP = "452 4.2.2 The email account that you tried to reach is over quota."
HARD_SMTP = "550 5.1.1 The email account that you tried to reach does not exist."
BLOCK_SMTP = "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"


def auth(secret=SECRET):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _pem_body(key) -> str:
    """A public key as anymail's settings take it: PEM without its armour lines."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "".join(pem.decode().strip().splitlines()[1:-1])


POSTAL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
MAILGUN_KEY = "mailgun-signing-key"
MAILERSEND_SECRET = "mailersend-signing-secret"
MAILTRAP_SECRET = "mailtrap-tracking-secret"
MANDRILL_KEY = "mandrill-webhook-key"
MANDRILL_URL = "https://cms.example.org/anymail/mandrill/"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-signing-secret-32-bytes!!").decode()
UNISENDER_KEY = "uni-test"

SETTINGS = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    "MAILERSEND_SIGNING_SECRET": MAILERSEND_SECRET,
    "MAILTRAP_TRACKING_SECRET": MAILTRAP_SECRET,
    "MANDRILL_WEBHOOK_KEY": MANDRILL_KEY,
    "MANDRILL_WEBHOOK_URL": MANDRILL_URL,
    "POSTAL_WEBHOOK_KEY": _pem_body(POSTAL_KEY),
    "RESEND_SIGNING_SECRET": RESEND_SECRET,
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": _pem_body(SENDGRID_KEY),
    "UNISENDER_GO_API_KEY": UNISENDER_KEY,
}


@dataclass
class Hook:
    path: str
    event: Callable  # (kind, ctx) → payload, or None when the ESP has no such event
    sign: Callable = lambda body, forged: {}  # extra headers for this raw body
    form: bool = False  # posted as a form (Mandrill) instead of JSON
    kinds: tuple = ("engaged", "soft", "hard", "complaint")

    def post(self, client, payload, forged=False):
        if self.form:
            body = urlencode({"mandrill_events": json.dumps(payload)})
            content_type = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(payload)
            content_type = "application/json"
        headers = self.sign(body.encode(), forged)
        basic = auth(WRONG if forged and not self.signs else SECRET)
        return client.post(
            f"/anymail/{self.path}", body, content_type=content_type, **basic, **headers
        )

    @property
    def signs(self):
        return self.sign is not Hook.sign


def _hmac_hex(key, body, forged):
    digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return "0" * len(digest) if forged else digest


# --- Postmark: postmarkapp.com/developer/webhooks -------------------------------------


def postmark(kind, c):
    base = {"MessageID": c["message_id"], "Metadata": c["metadata"], "Tag": c["tag"]}
    base["ServerID"], base["MessageStream"] = 23, "outbound"
    if kind == "engaged":
        return {
            **base,
            "RecordType": "Delivery",
            "Recipient": c["email"],
            "DeliveredAt": ISO,
            "Details": "smtp;250 2.0.0 OK",
        }
    bounce = {
        "soft": ("SoftBounce", 4096, f"smtp;{SOFT_SMTP}"),
        "hard": ("HardBounce", 1, f"smtp;{HARD_SMTP}"),
        "complaint": ("SpamComplaint", 512, ""),
        "policy": ("Blocked", 100000, f"smtp;{BLOCK_SMTP}"),
    }[kind]
    return {
        **base,
        "RecordType": "SpamComplaint" if kind == "complaint" else "Bounce",
        "ID": 4323372036854775807,
        "Type": bounce[0],
        "TypeCode": bounce[1],
        "Name": bounce[0],
        "Description": "The server was unable to deliver your message.",
        "Details": bounce[2],
        "Email": c["email"],
        "From": "newsletter@example.org",
        "BouncedAt": ISO,
        "DumpAvailable": False,
        "Inactive": kind in {"hard", "complaint"},
        "CanActivate": True,
        "Subject": "PENELOPE newsletter #3",
    }


# --- Brevo: developers.brevo.com/docs/transactional-webhooks ---------------------------


def brevo(kind, c):
    event, reason = {
        "engaged": ("delivered", "sent"),
        "soft": ("soft_bounce", "Mailbox full"),
        "hard": ("hard_bounce", f"{HARD_SMTP}"),
        "complaint": ("spam", ""),
        "policy": ("blocked", "blocked : due to blacklist user"),
    }[kind]
    return {
        "event": event,
        "email": c["email"],
        "id": 1234567,
        "date": "2025-12-01 10:05:00",
        "ts": NOW,
        "message-id": c["message_id"],
        "ts_event": NOW,
        "subject": "PENELOPE newsletter #3",
        "X-Mailin-custom": json.dumps(c["metadata"]),
        "sending_ip": "185.41.28.109",
        "ts_epoch": NOW * 1000,
        "tags": [c["tag"]],
        "reason": reason,
    }


# --- Mailgun: documentation.mailgun.com, webhooks (event-data) --------------------------


def mailgun(kind, c):
    data = {
        "id": uuid.uuid4().hex,
        "timestamp": NOW + 0.5,
        "recipient": c["email"],
        "tags": [c["tag"]],
        "user-variables": c["metadata"],
        "message": {"headers": {"message-id": c["message_id"].strip("<>")}},
        "log-level": "info",
    }
    if kind == "engaged":
        data.update(event="delivered", **{"delivery-status": {"code": 250, "message": "OK"}})
    elif kind == "complaint":
        data.update(event="complained", **{"log-level": "warn"})
    else:
        code, message = (452, SOFT_SMTP[4:]) if kind == "soft" else (550, HARD_SMTP[4:])
        data.update(
            event="failed",
            severity="temporary" if kind == "soft" else "permanent",
            reason="generic",
            **{
                "log-level": "warn" if kind == "soft" else "error",
                "delivery-status": {"code": code, "message": message, "description": ""},
            },
        )
    token = uuid.uuid4().hex
    return {
        "signature": {
            "timestamp": str(NOW),
            "token": token,
            "signature": hmac.new(
                MAILGUN_KEY.encode(), f"{NOW}{token}".encode(), hashlib.sha256
            ).hexdigest(),
        },
        "event-data": data,
    }


# --- Mailjet: dev.mailjet.com/email/guides/webhooks --------------------------------------


def mailjet(kind, c):
    base = {
        "time": NOW,
        "MessageID": int(c["message_id"]),
        "Message_GUID": str(uuid.uuid4()),
        "email": c["email"],
        "mj_campaign_id": 7390,
        "mj_contact_id": 2160,
        "customcampaign": c["tag"],
        "CustomID": "",
        "Payload": json.dumps(c["metadata"]),
    }
    if kind == "engaged":
        return {**base, "event": "sent", "smtp_reply": "250 2.0.0 OK"}
    if kind == "complaint":
        return {**base, "event": "spam", "source": "JMRPP"}
    if kind == "policy":
        return {**base, "event": "blocked", "error_related_to": "spam", "error": "sender blocked"}
    return {
        **base,
        "event": "bounce",
        "blocked": False,
        "hard_bounce": kind == "hard",
        "error_related_to": "recipient",
        "error": "quota exceeded" if kind == "soft" else "user unknown",
    }


# --- Mailtrap: api-docs.mailtrap.io, webhooks -------------------------------------------


def mailtrap(kind, c):
    event, response = {
        "engaged": ("delivery", None),
        "soft": ("soft bounce", SOFT_SMTP),
        "hard": ("bounce", HARD_SMTP),
        "complaint": ("spam", None),
        "policy": ("reject", BLOCK_SMTP),
    }[kind]
    item = {
        "event": event,
        "message_id": c["message_id"],
        "sending_stream": "transactional",
        "email": c["email"],
        "timestamp": NOW,
        "event_id": str(uuid.uuid4()),
        "category": c["tag"],
        "custom_variables": c["metadata"],
    }
    if response:
        item.update(response=response, response_code=int(response[:3]))
    return {"events": [item]}


# --- Mandrill: mailchimp.com/developer/transactional/docs/webhooks ----------------------


def mandrill(kind, c):
    event, state, diag = {
        "engaged": ("open", "sent", None),
        "soft": ("soft_bounce", "soft-bounced", f"smtp;{SOFT_SMTP}"),
        "hard": ("hard_bounce", "bounced", f"smtp;{HARD_SMTP}"),
        "complaint": ("spam", "sent", None),
        "policy": ("reject", "rejected", None),
    }[kind]
    msg = {
        "ts": NOW,
        "_id": c["message_id"],
        "state": state,
        "email": c["email"],
        "subject": "PENELOPE newsletter #3",
        "sender": "newsletter@example.org",
        "tags": [c["tag"]],
        "metadata": c["metadata"],
    }
    if diag:
        msg.update(
            diag=diag, bounce_description="mailbox_full" if kind == "soft" else "bad_mailbox"
        )
    return [{"event": event, "ts": NOW, "_id": c["message_id"], "msg": msg}]


def _mandrill_sign(body, forged):
    # Mandrill signs its webhook URL followed by each POST field's name and value.
    signed = MANDRILL_URL + "mandrill_events" + _form_value(body)
    digest = base64.b64encode(
        hmac.new(MANDRILL_KEY.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()
    return {"HTTP_X_MANDRILL_SIGNATURE": "forged" + digest[6:] if forged else digest}


def _form_value(body):
    from urllib.parse import parse_qs

    return parse_qs(body.decode())["mandrill_events"][0]


# --- Postal: docs.postalserver.io/developer/webhooks ------------------------------------


def postal(kind, c):
    message = {
        "id": int(c["message_id"]),
        "token": "VJzsFA0S",
        "direction": "outgoing",
        "message_id": f"{uuid.uuid4()}@rp.postal.example.org",
        "to": c["email"],
        "from": "newsletter@example.org",
        "subject": "PENELOPE newsletter #3",
        "timestamp": NOW,
        "spam_status": "NotChecked",
        "tag": c["tag"],
    }
    event, status, output = {
        "engaged": ("MessageSent", "Sent", "250 2.0.0 OK"),
        "soft": ("MessageDelayed", "SoftFail", SOFT_SMTP),
        "hard": ("MessageDeliveryFailed", "HardFail", HARD_SMTP),
    }[kind]
    payload = {
        "message": message,
        "status": status,
        "details": f"Message for {c['email']} could not be delivered.",
        "output": output,
        "sent_with_ssl": True,
        "timestamp": NOW,
        "time": 0.22,
    }
    return {"event": event, "timestamp": NOW, "payload": payload, "uuid": str(uuid.uuid4())}


def _postal_sign(body, forged):
    # Postal signs with RSA-SHA1 (its scheme, not our choice).
    signed = body + (b" " if forged else b"")
    signature = POSTAL_KEY.sign(signed, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return {"HTTP_X_POSTAL_SIGNATURE": base64.b64encode(signature).decode()}


# --- Resend: resend.com/docs/dashboard/webhooks/event-types -----------------------------


def resend(kind, c):
    data = {
        "created_at": ISO,
        "email_id": c["message_id"],
        "from": "PENELOPE <newsletter@example.org>",
        "to": [c["email"]],
        "subject": "PENELOPE newsletter #3",
        "headers": [
            {"name": "X-Metadata", "value": json.dumps(c["metadata"])},
            {"name": "X-Tags", "value": json.dumps([c["tag"]])},
        ],
    }
    event = {
        "engaged": "email.delivered",
        "soft": "email.bounced",
        "hard": "email.bounced",
        "complaint": "email.complained",
    }[kind]
    if kind == "soft":
        data["bounce"] = {
            "message": "The recipient's email provider sent a bounce message: mailbox full.",
            "subType": "MailboxFull",
            "type": "Transient",
        }
    if kind == "hard":
        data["bounce"] = {
            "message": "The recipient's email provider sent a hard bounce message.",
            "subType": "General",
            "type": "Permanent",
        }
    return {"type": event, "created_at": ISO, "data": data}


def _resend_sign(body, forged):
    from svix.webhooks import Webhook

    message_id = f"msg_{uuid.uuid4().hex}"
    when = datetime.now(tz=UTC)
    signature = Webhook(RESEND_SECRET).sign(message_id, when, body.decode())
    if forged:
        signature = "v1," + base64.b64encode(b"x" * 32).decode()
    return {
        "HTTP_SVIX_ID": message_id,
        "HTTP_SVIX_TIMESTAMP": str(int(when.timestamp())),
        "HTTP_SVIX_SIGNATURE": signature,
    }


# --- SendGrid: www.twilio.com/docs/sendgrid/for-developers/tracking-events/event --------


def sendgrid(kind, c):
    base = {
        "email": c["email"],
        "timestamp": NOW,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "category": [c["tag"]],
        "anymail_id": c["message_id"],
        **c["metadata"],
    }
    if kind == "engaged":
        return [{**base, "event": "delivered", "response": "250 OK"}]
    if kind == "soft":
        return [{**base, "event": "deferred", "response": SOFT_SMTP, "attempt": "1"}]
    if kind == "complaint":
        return [{**base, "event": "spamreport"}]
    reason, status = (HARD_SMTP, "5.1.1") if kind == "hard" else (BLOCK_SMTP, "5.7.1")
    return [
        {
            **base,
            "event": "bounce",
            "type": "bounce" if kind == "hard" else "blocked",
            "bounce_classification": "Invalid Address" if kind == "hard" else "Reputation",
            "reason": reason,
            "status": status,
        }
    ]


def _sendgrid_sign(body, forged):
    stamp = str(int(time.time()))
    signature = SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    if forged:
        signature = SENDGRID_KEY.sign(b"something else", ec.ECDSA(hashes.SHA256()))
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": stamp,
    }


# --- SparkPost: developers.sparkpost.com/api/webhooks (event types) ----------------------


def sparkpost(kind, c):
    event = {
        "event_id": str(uuid.uuid4().int % 10**17),
        "timestamp": str(NOW),
        "transmission_id": c["message_id"],
        "message_id": "0e0d94b7-9085-4e3c-ab30-e3f2cd9c273e",
        "rcpt_to": c["email"].lower(),
        "raw_rcpt_to": c["email"],
        "rcpt_meta": c["metadata"],
        "campaign_id": c["tag"],
        "subject": "PENELOPE newsletter #3",
    }
    if kind == "engaged":
        event.update(type="delivery", raw_reason="250 2.0.0 OK")
    elif kind == "complaint":
        event.update(type="spam_complaint", fbtype="abuse", report_by="server.email.com")
    else:
        bounce_class, raw = {"soft": ("22", SOFT_SMTP), "hard": ("10", HARD_SMTP)}.get(
            kind, ("50", BLOCK_SMTP)
        )
        event.update(
            type="bounce",
            bounce_class=bounce_class,
            raw_reason=raw,
            reason=raw,
            error_code=raw[:3],
        )
    group = "feedback_event" if kind == "complaint" else "message_event"
    return [{"msys": {group: event}}]


# --- Unisender Go: godocs.unisender.ru/web-api-ref#callback-format -----------------------


def unisender_go(kind, c):
    status, delivery_status, response = {
        "engaged": ("delivered", "delivered", "250 2.0.0 OK"),
        "soft": ("soft_bounced", "err_mailbox_full", SOFT_SMTP),
        "hard": ("hard_bounced", "err_user_unknown", HARD_SMTP),
        "complaint": ("spam", "", None),
    }[kind]
    event_data = {
        "job_id": "1ZymBc-00041N-9X",
        "metadata": {**c["metadata"], "anymail_id": c["message_id"]},
        "email": c["email"],
        "status": status,
        "event_time": "2025-12-01 09:05:00",
        "url": None,
        "delivery_info": {
            "delivery_status": delivery_status,
            "destination_response": response,
            "user_agent": None,
            "ip": None,
        },
    }
    return {
        "auth": "AUTH-PLACEHOLDER",
        "events_by_user": [
            {
                "user_id": 456,
                "project_id": "6432890213745872",
                "project_name": "PENELOPE",
                "events": [{"event_name": "transactional_email_status", "event_data": event_data}],
            }
        ],
    }


def _unisender_body(payload, forged):
    # The signature is inside the body: the MD5 of the body with the API key as "auth".
    body = json.dumps(payload).replace("AUTH-PLACEHOLDER", UNISENDER_KEY)
    digest = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - Unisender Go's scheme
    return body.replace(UNISENDER_KEY, "0" * 32 if forged else digest)


# --- MailerSend: developers.mailersend.com/api/v1/webhooks.html -------------------------


def mailersend(kind, c):
    kind_type, morph = {
        "engaged": ("delivered", None),
        "soft": ("soft_bounced", {"object": "recipient_bounce", "reason": SOFT_SMTP}),
        "hard": ("hard_bounced", {"object": "recipient_bounce", "reason": HARD_SMTP}),
        "complaint": ("spam_complaint", {"object": "spam_complaint", "reason": None}),
    }[kind]
    return {
        "type": f"activity.{kind_type}",
        "created_at": ISO,
        "webhook_id": "7z3m5jgrogx4dpyo",
        "url": "https://cms.example.org/anymail/mailersend/tracking/",
        "data": {
            "id": uuid.uuid4().hex[:24],
            "type": kind_type,
            "created_at": ISO,
            "email": {
                "id": uuid.uuid4().hex[:24],
                "from": "newsletter@example.org",
                "subject": "PENELOPE newsletter #3",
                "status": "delivered" if kind == "engaged" else "rejected",
                "tags": [c["tag"]],
                "message": {"id": c["message_id"], "created_at": ISO},
                "recipient": {"id": uuid.uuid4().hex[:24], "email": c["email"]},
            },
            "morph": morph,
        },
    }


# --- Amazon SES through SNS: docs.aws.amazon.com/ses/latest/dg/event-publishing --------


def amazon_ses(kind, c):
    mail = {
        "timestamp": ISO,
        "source": "newsletter@example.org",
        "messageId": c["message_id"],
        "destination": [c["email"]],
        "headersTruncated": False,
        "headers": [
            {"name": "X-Metadata", "value": json.dumps(c["metadata"])},
            {"name": "X-Tag", "value": c["tag"]},
        ],
    }
    if kind == "engaged":
        event = {
            "eventType": "Delivery",
            "delivery": {
                "timestamp": ISO,
                "recipients": [c["email"]],
                "smtpResponse": "250 2.6.0 Message received",
                "processingTimeMillis": 546,
            },
        }
    elif kind == "complaint":
        event = {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": c["email"]}],
                "timestamp": ISO,
                "feedbackId": str(uuid.uuid4()),
                "complaintFeedbackType": "abuse",
            },
        }
    else:
        kind_type, sub, status, code = {
            "soft": ("Transient", "MailboxFull", "4.2.2", f"smtp; {SOFT_SMTP}"),
            "hard": ("Permanent", "General", "5.1.1", f"smtp; {HARD_SMTP}"),
        }[kind]
        event = {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": kind_type,
                "bounceSubType": sub,
                "bouncedRecipients": [
                    {
                        "emailAddress": c["email"],
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": code,
                    }
                ],
                "timestamp": ISO,
                "feedbackId": str(uuid.uuid4()),
            },
        }
    event["mail"] = mail
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
        "Message": json.dumps(event),
        "Timestamp": ISO,
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
    }


class SnsHook(Hook):
    def post(self, client, payload, forged=False):
        return client.post(
            f"/anymail/{self.path}",
            json.dumps(payload),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=payload["MessageId"],
            **auth(WRONG if forged else SECRET),
        )


class UnisenderHook(Hook):
    def post(self, client, payload, forged=False):
        return client.post(
            f"/anymail/{self.path}",
            _unisender_body(payload, forged),
            content_type="application/json",
            **auth(),
        )

    @property
    def signs(self):
        return True


class MailgunHook(Hook):
    def post(self, client, payload, forged=False):
        if forged:
            payload = {**payload, "signature": {**payload["signature"], "signature": "0" * 64}}
        return client.post(
            f"/anymail/{self.path}", json.dumps(payload), content_type="application/json", **auth()
        )

    @property
    def signs(self):
        return True


FIVE = ("engaged", "soft", "hard", "complaint", "policy")
HOOKS = {
    "amazon_ses": SnsHook("amazon_ses/tracking/", amazon_ses),
    "brevo": Hook("brevo/tracking/", brevo, kinds=FIVE),
    "mailersend": Hook(
        "mailersend/tracking/",
        mailersend,
        sign=lambda body, forged: {"HTTP_SIGNATURE": _hmac_hex(MAILERSEND_SECRET, body, forged)},
    ),
    "mailgun": MailgunHook("mailgun/tracking/", mailgun),
    "mailjet": Hook("mailjet/tracking/", mailjet, kinds=FIVE),
    "mailtrap": Hook(
        "mailtrap/tracking/",
        mailtrap,
        sign=lambda body, forged: {
            "HTTP_MAILTRAP_SIGNATURE": _hmac_hex(MAILTRAP_SECRET, body, forged)
        },
        kinds=FIVE,
    ),
    "mandrill": Hook("mandrill/", mandrill, sign=_mandrill_sign, form=True),
    # Postal reports no complaints.
    "postal": Hook(
        "postal/tracking/", postal, sign=_postal_sign, kinds=("engaged", "soft", "hard")
    ),
    "postmark": Hook("postmark/tracking/", postmark, kinds=FIVE),
    "resend": Hook("resend/tracking/", resend, sign=_resend_sign),
    "sendgrid": Hook("sendgrid/tracking/", sendgrid, sign=_sendgrid_sign, kinds=FIVE),
    "sparkpost": Hook("sparkpost/tracking/", sparkpost, kinds=FIVE),
    "unisender_go": UnisenderHook("unisender_go/tracking/", unisender_go),
}
