"""Audience: lists, subscribers, their subscriptions (with consent) and the suppression list."""

import hashlib
import unicodedata

from anyascii import anyascii
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from email_validator import EmailNotValidError, validate_email

from newsletters.validators import single_line


def enabled_language(value: str) -> None:
    """A code of LANGUAGES (or blank); checked against the settings of the day, so the
    field has no choices for migrations to follow."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    if value and value not in dict(settings.LANGUAGES):
        raise ValidationError(
            _("“%(value)s” is not one of this site's languages."), params={"value": value}
        )


def normalise_email(address: str) -> str:
    """The one spelling of an address: email-validator's normalised form.

    That is the domain through IDNA (full-width letters folded, punycode shown as
    Unicode) and lower-cased, the whole in Unicode NFC; the local part keeps its case.
    What the validator refuses (a bounce from ``postmaster@localhost``, an erased
    placeholder) is only trimmed, NFC-normalised and its domain lower-cased.
    """
    address = unicodedata.normalize("NFC", (address or "").strip())
    # Plain ASCII without an IDNA label is already in normal form once its domain is
    # lower-cased: skip the validator (imports hash every row).
    if not address.isascii() or "xn--" in address.lower():
        try:
            return validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            pass
    local, sep, domain = address.rpartition("@")
    return f"{local}{sep}{domain.lower()}" if sep else address


def email_identity(address: str) -> str:
    """What makes two spellings one person: the normal form, compared case-insensitively."""
    return normalise_email(address).lower()


def email_hash(address: str) -> str:
    """One-way hash of the identity: suppressions, de-duplication and matching use it."""
    return hashlib.sha256(email_identity(address).encode()).hexdigest()


def legacy_email_hash(address: str) -> str:
    """The hash as it was made before addresses were normalised with email-validator.

    Suppressions of people erased before then cannot be recomputed (only the hash is
    left), so lookups also try the spelling as typed under the old rule.
    """
    address = (address or "").strip()
    local, sep, domain = address.rpartition("@")
    old = f"{local}{sep}{domain.lower()}" if sep else address
    return hashlib.sha256(old.lower().encode()).hexdigest()


def search_key(*parts: str) -> str:
    """What subscriber search compares: "Martínez" and "Martinez" read the same, as do
    "Łukasz" and "Lukasz", on every database (no ``unaccent`` needed)."""
    return anyascii(" ".join(p for p in parts if p)).casefold()


class MailingList(models.Model):
    # The name, sender and reply-to become headers (List-Id, From, Reply-To): one line each.
    name = models.CharField(max_length=200, validators=[single_line])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_public = models.BooleanField(
        _("public"), default=True, help_text=_("Public lists can be chosen on signup forms.")
    )
    double_opt_in = models.BooleanField(default=True)
    from_name = models.CharField(max_length=200, blank=True, validators=[single_line])
    from_email = models.EmailField(blank=True, validators=[single_line])
    reply_to = models.EmailField(blank=True, validators=[single_line])
    consent_text = models.TextField(
        _("consent wording"),
        blank=True,
        help_text=_(
            "What people agree to when they subscribe; recorded with each subscription "
            "when the signup form sends no wording of its own."
        ),
    )
    track_clicks = models.BooleanField(
        _("track clicks"),
        default=True,
        help_text=_(
            "Links in campaigns to this list go through a short redirect on this site that "
            "counts clicks per reader and per link."
        ),
    )
    track_opens = models.BooleanField(
        _("track opens"),
        default=False,
        help_text=_(
            "Adds an invisible image that tells when a reader's mail program loaded it. "
            "Under the GDPR and the ePrivacy rules this needs the readers' consent: say so "
            "in the consent wording before turning it on. Apple Mail and image blocking "
            "make the figure unreliable."
        ),
    )
    language = models.CharField(
        _("default language"),
        max_length=10,
        blank=True,
        validators=[enabled_language],
        help_text=_(
            "The language of issues for subscribers who chose none; empty: the language "
            "the issue is written in."
        ),
    )
    welcome_issue = models.ForeignKey(
        "newsletters.NewsletterPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("welcome email"),
        help_text=_(
            "A newsletter issue (published) sent to each person once their subscription "
            "to this list is confirmed."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailing list")
        verbose_name_plural = _("mailing lists")

    def __str__(self):
        return self.name


class SubscriberQuerySet(models.QuerySet):
    def by_email(self, address: str):
        """Whoever ``address`` is, however it is spelt."""
        return self.filter(email_hash=email_hash(address))

    def not_suppressed(self):
        return self.exclude(email_hash__in=Suppression.objects.values("email_hash"))

    def receiving(self, lists):
        """Who a send to ``lists`` reaches: active, confirmed on one of them, not suppressed.

        One row per subscriber however many of the lists they are on.
        """
        confirmed = Subscription.objects.filter(
            subscriber=models.OuterRef("pk"),
            mailing_list__in=lists,
            status=Subscription.Status.CONFIRMED,
        )
        return self.filter(
            models.Exists(confirmed), status=Subscriber.Status.ACTIVE
        ).not_suppressed()

    def reachable(self):
        """Subscribers whose hosted-page links still work: not erased."""
        return self.exclude(status=Subscriber.Status.ERASED)


class Subscriber(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKLISTED = "blocklisted", _("Blocklisted")
        # Personal data removed on request; the row stays so that campaign history
        # keeps its counts, and the address lives on only as a hash in Suppression.
        ERASED = "erased", _("Erased")

    # The normalised address (``normalise_email``): what is sent to and shown by default.
    email = models.EmailField(max_length=254)
    # The address as the person typed it, when that differs from ``email``: for display
    # only, never to match, de-duplicate or send.
    email_as_typed = models.CharField(max_length=320, blank=True, editable=False)
    # Kept in step with `email` so sends can exclude suppressions (stored hashed) in SQL.
    email_hash = models.CharField(max_length=64, editable=False, default="")
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=10, blank=True, default="en")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    attributes = models.JSONField(default=dict, blank=True)
    country = CountryField(_("country"), blank=True)
    # Slugs of the topics (content tags) the reader chose, sorted: ``mailing.topics``
    # writes them, so equal choices are equal values (campaigns group readers by them).
    topics = models.JSONField(_("topics"), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Address and name folded by ``search_key``, kept in step on save, for the admin search.
    search_text = models.TextField(editable=False, blank=True, default="")

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="mailing_subscriber_email_ci_unique")
        ]
        indexes = [
            # The admin listing's order: its first page reads 50 index entries, not a sort.
            models.Index(fields=["email"], name="mailing_subscriber_email"),
            # One index, not the two `db_index` makes on PostgreSQL: hashes are only
            # compared for equality, and byte comparisons (the pattern operator class;
            # ignored elsewhere) probe it several times faster than the collation's.
            models.Index(
                fields=["email_hash"],
                name="mailing_subscriber_hash",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        typed = (self.email or "").strip()
        self.email = normalise_email(typed)
        if typed != self.email:
            self.email_as_typed = typed[:320]
        elif normalise_email(self.email_as_typed) != self.email:
            self.email_as_typed = ""  # the address changed: the old spelling is stale
        self.email_hash = email_hash(self.email)
        self.search_text = search_key(self.email, self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_hash", "email_as_typed"}
        if update_fields is not None and {"email", "name"} & set(update_fields):
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text"}
        super().save(*args, **kwargs)

    @property
    def display_email(self) -> str:
        return self.email_as_typed or self.email


class Subscription(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    # No index of their own: the unique (subscriber, mailing_list) and the
    # (mailing_list, status) indexes start with them.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions", db_index=False
    )
    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.CASCADE, related_name="subscriptions", db_index=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    # When it last became pending (a signup or a re-confirmation request); unconfirmed
    # past SUBSCRIPTION_PENDING_MAX_AGE, it expires. Empty: since ``created_at``.
    pending_since = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # Consent record: where, how and under which wording the subscriber agreed.
    source = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    consent_text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "mailing_list"], name="mailing_subscription_unique"
            )
        ]
        indexes = [models.Index(fields=["mailing_list", "status"])]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self):
        return f"{self.subscriber} → {self.mailing_list} ({self.status})"


class Suppression(models.Model):
    """Addresses never mailed, whatever their subscriptions say; kept as a hash."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "bounced", _("Hard bounce")
        SOFT_BOUNCES = "soft_bounced", _("Repeated soft bounces")
        COMPLAINT = "complained", _("Spam complaint")
        MANUAL = "manual", _("Added by hand")
        ERASED = "erased", _("Erased on request")

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")

    def __str__(self):
        return f"{self.email_hash[:12]}… ({self.get_reason_display()})"

    @classmethod
    def add(cls, address: str, reason: str, detail: str = ""):
        obj, _created = cls.objects.get_or_create(
            email_hash=email_hash(address), defaults={"reason": reason, "detail": detail}
        )
        return obj

    @classmethod
    def is_suppressed(cls, address: str) -> bool:
        hashes = {email_hash(address), legacy_email_hash(address)}
        return cls.objects.filter(email_hash__in=hashes).exists()


class SubscriberEvent(models.Model):
    """One line of a subscriber's history: consents, confirmations, unsubscribes, bounces.

    Append with ``mailing.subscriptions.record_event``. ``detail`` never holds the
    address or the name, so erasure only has to clear ``ip_address``.
    """

    class Kind(models.TextChoices):
        SUBSCRIBED = "subscribed", _("Subscribed")
        CONFIRMATION_SENT = "confirmation_sent", _("Confirmation email sent")
        CONFIRMED = "confirmed", _("Confirmed")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        PREFERENCES_CHANGED = "preferences_changed", _("Preferences changed")
        IMPORTED = "imported", _("Imported")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        SUPPRESSED = "suppressed", _("Suppressed")
        EXPORTED = "exported", _("Data exported")
        ERASED = "erased", _("Erased")
        EXPIRED = "expired", _("Signup expired unconfirmed")
        RECONFIRM_REQUESTED = "reconfirm_requested", _("Asked to confirm again")
        WELCOMED = "welcomed", _("Welcome email queued")

    # No index of its own: the (subscriber, created_at) index starts with it.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subscriber", "created_at"])]
        verbose_name = _("subscriber event")
        verbose_name_plural = _("subscriber events")

    def __str__(self):
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"
