"""A list's digest rhythm: when the next issue drafts itself, and whether it may send itself."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone: %(zone)s"), params={"zone": value}) from exc


def time_zone_choices():
    return [(name, name) for name in sorted(available_timezones())]


class DigestSchedule(models.Model):
    """Every week or every month on a given weekday, at a local time of a time zone."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", _("Every week")
        MONTHLY = "monthly", _("Every month")

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    class Week(models.IntegerChoices):
        FIRST = 1, _("first")
        SECOND = 2, _("second")
        THIRD = 3, _("third")
        FOURTH = 4, _("fourth")
        LAST = -1, _("last")

    mailing_list = models.OneToOneField(
        "mailing.MailingList",
        on_delete=models.CASCADE,
        related_name="digest_schedule",
        verbose_name=_("list"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    week = models.SmallIntegerField(
        _("week of the month"),
        choices=Week.choices,
        default=Week.FIRST,
        help_text=_("For a monthly digest: which of the month's weekdays."),
    )
    weekday = models.SmallIntegerField(_("weekday"), choices=Weekday.choices, default=1)
    time = models.TimeField(_("local time"), default="09:00")
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=settings.TIME_ZONE,
        validators=[validate_time_zone],
        choices=time_zone_choices,
    )
    auto_send = models.BooleanField(
        _("send drafts that pass the checks"),
        default=False,
        help_text=_(
            "Off: editors are told a draft is waiting and a person sends it. On: a draft "
            "with no warning from the email checks is published and sent to this list."
        ),
    )
    notify_group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("tell"),
        help_text=_("Who is told of each draft; empty: the administrators."),
    )
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, editable=False)
    last_result = models.CharField(_("last result"), max_length=255, blank=True, editable=False)

    class Meta:
        verbose_name = _("digest schedule")
        verbose_name_plural = _("digest schedules")

    def __str__(self):
        return _("Digest of %(list)s") % {"list": self.mailing_list}

    def save(self, *args, **kwargs):
        # A changed rhythm takes effect from now on.
        self.next_run_at = self.next_run(timezone.now()) if self.enabled else None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_run_at"}
        super().save(*args, **kwargs)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _day_in(self, year: int, month: int) -> date | None:
        """The rhythm's day in that month (monthly)."""
        first = date(year, month, 1)
        if self.week == self.Week.LAST:
            following = date(year + (month == 12), month % 12 + 1, 1)
            last = following - timedelta(days=1)
            return last - timedelta(days=(last.weekday() - self.weekday) % 7)
        day = first + timedelta(days=(self.weekday - first.weekday()) % 7 + 7 * (self.week - 1))
        return day if day.month == month else None

    def next_run(self, after: datetime) -> datetime:
        """The first moment of the rhythm strictly after ``after``, as an aware UTC time.

        Computed on the local calendar, so 09:00 in Brussels stays 09:00 across the
        changes to and from summer time.
        """
        zone = ZoneInfo(self.time_zone)
        local = after.astimezone(zone)
        at = (
            self.time
            if not isinstance(self.time, str)
            else datetime.strptime(self.time, "%H:%M").time()
        )

        def moment(day: date) -> datetime:
            # fold=0: in the repeated autumn hour, the first of the two.
            return datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC"))

        if self.frequency == self.Frequency.WEEKLY:
            day = local.date() + timedelta(days=(self.weekday - local.weekday()) % 7)
            while moment(day) <= after:
                day += timedelta(days=7)
            return moment(day)
        year, month = local.year, local.month
        for _step in range(14):
            day = self._day_in(year, month)
            if day is not None and moment(day) > after:
                return moment(day)
            year, month = year + (month == 12), month % 12 + 1
        raise ValueError("no run within a year")  # pragma: no cover - every month has one
