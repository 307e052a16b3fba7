"""Audience admin: lists with counts, subscribers with filters and history, suppressions,
and the bulk actions on subscribers."""

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn
from wagtail.admin.widgets.button import HeaderButton
from wagtail.snippets.bulk_actions.snippet_bulk_action import SnippetBulkAction
from wagtail.snippets.views.snippets import (
    IndexView,
    InspectView,
    SnippetViewSet,
    SnippetViewSetGroup,
)

from mailing import retention, subscriptions
from mailing.admin.forms import BoundedChoicesForm
from mailing.admin.segments import SegmentViewSet
from mailing.exporting import csv_response, export_rows
from mailing.models import (
    DigestSchedule,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
    email_hash,
    search_key,
)


class MailingListViewSet(SnippetViewSet):
    model = MailingList
    icon = "list-ul"
    menu_label = _("Lists")
    list_display = [
        TitleColumn("name", label=_("Name"), url_name="wagtailsnippets_mailing_mailinglist:edit"),
        "slug",
        Column("pending_count", label=_("Pending")),
        Column("confirmed_count", label=_("Confirmed")),
        Column("unsubscribed_count", label=_("Unsubscribed")),
        TitleColumn(
            "export",
            label=_("Export"),
            accessor=lambda obj: _("CSV"),
            get_url=lambda obj: reverse("mailing_export_list", args=[obj.pk]),
        ),
    ]
    search_fields = ["name", "slug"]
    search_backend_name = None
    copy_view_enabled = False
    edit_handler = ObjectList(
        [
            *(
                FieldPanel(name)
                for name in (
                    "name",
                    "slug",
                    "description",
                    "is_public",
                    "double_opt_in",
                    "from_name",
                    "from_email",
                    "reply_to",
                    "consent_text",
                )
            ),
            FieldPanel(
                "language",
                widget=forms.Select(
                    choices=[("", _("The language the issue is written in")), *settings.LANGUAGES]
                ),
            ),
            FieldPanel("welcome_issue"),
        ],
        base_form_class=BoundedChoicesForm,
    )

    def get_queryset(self, request):
        status = Subscription.Status
        return MailingList.objects.annotate(
            pending_count=Count("subscriptions", filter=Q(subscriptions__status=status.PENDING)),
            confirmed_count=Count(
                "subscriptions", filter=Q(subscriptions__status=status.CONFIRMED)
            ),
            unsubscribed_count=Count(
                "subscriptions", filter=Q(subscriptions__status=status.UNSUBSCRIBED)
            ),
        )


class SubscriberFilterSet(WagtailFilterSet):
    """List and subscription status filter one subscription together (on list X, pending)."""

    mailing_list = django_filters.ModelChoiceFilter(
        label=_("List"), queryset=MailingList.objects.all(), method="keep"
    )
    subscription_status = django_filters.ChoiceFilter(
        label=_("Subscription status"), choices=Subscription.Status.choices, method="keep"
    )

    disengaged = django_filters.NumberFilter(
        label=_("Opened and clicked nothing in their last … campaigns"),
        min_value=1,
        max_value=1000,
        method="keep",
    )

    class Meta:
        model = Subscriber
        fields = ["status", "language"]

    def keep(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        mailing_list = self.form.cleaned_data.get("mailing_list")
        status = self.form.cleaned_data.get("subscription_status")
        if mailing_list or status:
            wanted = Subscription.objects.filter(subscriber=OuterRef("pk"))
            if mailing_list:
                wanted = wanted.filter(mailing_list=mailing_list)
            if status:
                wanted = wanted.filter(status=status)
            queryset = queryset.filter(Exists(wanted))
        campaigns = self.form.cleaned_data.get("disengaged")
        if campaigns:
            queryset = retention.disengaged(campaigns, queryset)
        return queryset


class SubscriberIndexView(IndexView):
    # One export format for the whole product (mailing.exporting), CSV only.
    FORMATS = ("csv",)

    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if self.request.user.has_perm("mailing.add_subscriber"):
            buttons.append(
                HeaderButton(_("Import"), url=reverse("mailing_import"), icon_name="upload")
            )
        return buttons

    @cached_property
    def header_more_buttons(self):
        return [b for b in super().header_more_buttons if "export=xlsx" not in (b.url or "")]

    def search_queryset(self, queryset):
        # Accents, case and look-alike letters folded on both sides: "Martinez" finds
        # "Martínez" and the reverse, on SQLite as on PostgreSQL.
        if not self.is_searching:
            return queryset
        for term in search_key(self.search_query).split():
            queryset = queryset.filter(search_text__contains=term)
        return queryset

    def as_spreadsheet(self, queryset, spreadsheet_format):
        return csv_response(export_rows(queryset), "subscribers")


class SubscriberInspectView(InspectView):
    """The subscriber's detail: data, subscriptions with consent, and history, every time
    in the site's time zone (whatever the editor's own), and said so."""

    def get_created_at_display_value(self):
        return date_format(timezone.localtime(self.object.created_at), "SHORT_DATETIME_FORMAT")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["subscriptions"] = self.object.subscriptions.select_related(
            "mailing_list"
        ).order_by("mailing_list__name")
        context["events"] = self.object.events.select_related("mailing_list")[:500]
        context["suppression"] = Suppression.objects.filter(
            email_hash=self.object.email_hash
        ).first()
        context["time_zone"] = settings.TIME_ZONE
        return context

    def dispatch(self, request, *args, **kwargs):
        with timezone.override(settings.TIME_ZONE):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()  # rendered here, inside the site's time zone
            return response


class SubscriberViewSet(SnippetViewSet):
    model = Subscriber
    icon = "user"
    menu_label = _("Subscribers")
    index_view_class = SubscriberIndexView
    inspect_view_class = SubscriberInspectView
    inspect_view_enabled = True
    inspect_template_name = "mailing/admin/subscriber_inspect.html"
    inspect_view_fields = ["email", "name", "language", "status", "attributes", "created_at"]
    list_display = [
        TitleColumn(
            "email", label=_("Email"), url_name="wagtailsnippets_mailing_subscriber:inspect"
        ),
        "name",
        "language",
        Column("status", label=_("Status"), accessor="get_status_display"),
        DateColumn("created_at", label=_("Added")),
    ]
    list_per_page = 50
    search_fields = ["search_text"]
    search_backend_name = None
    filterset_class = SubscriberFilterSet
    list_export = ["email", "name", "language", "status", "created_at"]
    export_filename = "subscribers"
    copy_view_enabled = False
    form_fields = ["email", "name", "language", "status", "attributes"]


class SuppressionForm(WagtailAdminModelForm):
    """Suppressions are stored hashed: the editor types an address, only its hash is kept."""

    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("Only a one-way hash of the address is stored."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["email"]

    def clean_email(self):
        address = self.cleaned_data["email"]
        if Suppression.is_suppressed(address):
            raise forms.ValidationError(_("This address is already suppressed."))
        return address

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.email_hash = email_hash(self.cleaned_data["email"])
        return super().save(commit=commit)


class SuppressionIndexView(IndexView):
    def search_queryset(self, queryset):
        # Addresses are stored hashed: searching for one means looking up its hash.
        if self.is_searching and "@" in self.search_query:
            return queryset.filter(email_hash=email_hash(self.search_query))
        return super().search_queryset(queryset)


class SuppressionViewSet(SnippetViewSet):
    model = Suppression
    icon = "cross"
    menu_label = _("Suppressions")
    index_view_class = SuppressionIndexView
    list_display = [
        TitleColumn(
            "email_hash",
            label=_("Address hash"),
            url_name="wagtailsnippets_mailing_suppression:edit",
        ),
        Column("reason", label=_("Reason"), accessor="get_reason_display"),
        "detail",
        DateColumn("created_at", label=_("Since")),
    ]
    list_filter = ["reason"]
    search_fields = ["email_hash", "detail"]
    search_backend_name = None
    copy_view_enabled = False
    edit_handler = ObjectList(
        [FieldPanel("email"), FieldPanel("reason"), FieldPanel("detail")],
        base_form_class=SuppressionForm,
    )


class DigestScheduleViewSet(SnippetViewSet):
    model = DigestSchedule
    icon = "time"
    menu_label = _("Digest schedules")
    list_display = [
        TitleColumn(
            "mailing_list",
            label=_("List"),
            url_name="wagtailsnippets_mailing_digestschedule:edit",
        ),
        Column("rhythm", label=_("Rhythm"), accessor=lambda obj: rhythm_label(obj)),
        Column("auto_send", label=_("Sends on its own")),
        DateColumn("next_run_at", label=_("Next run")),
        "last_result",
    ]
    copy_view_enabled = False
    edit_handler = ObjectList(
        [
            FieldPanel(name)
            for name in (
                "mailing_list",
                "enabled",
                "frequency",
                "week",
                "weekday",
                "time",
                "time_zone",
                "auto_send",
                "notify_group",
            )
        ],
        base_form_class=BoundedChoicesForm,
    )


def rhythm_label(schedule) -> str:
    at = f"{schedule.time:%H:%M} ({schedule.time_zone})"
    if schedule.frequency == DigestSchedule.Frequency.WEEKLY:
        return _("every %(day)s at %(at)s") % {"day": schedule.get_weekday_display(), "at": at}
    return _("every %(week)s %(day)s of the month at %(at)s") % {
        "week": schedule.get_week_display(),
        "day": schedule.get_weekday_display(),
        "at": at,
    }


class AudienceGroup(SnippetViewSetGroup):
    items = (
        MailingListViewSet,
        SubscriberViewSet,
        SegmentViewSet,
        SuppressionViewSet,
        DigestScheduleViewSet,
    )
    menu_icon = "group"
    menu_label = _("Audience")
    menu_name = "audience"


# --- bulk actions on subscribers --------------------------------------------------------------


class _SubscriberBulkAction(SnippetBulkAction):
    models = [Subscriber]
    template_name = "mailing/admin/bulk_action_confirm.html"
    question = ""

    def check_perm(self, obj):
        return self.request.user.has_perm("mailing.change_subscriber")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "action": self}

    @classmethod
    def execute_action(cls, objects, **kwargs):
        user = kwargs["self"].request.user
        for subscriber in objects:
            cls.apply(subscriber, source=f"admin: {user}"[:100])
        return len(objects), 0


class UnsubscribeBulkAction(_SubscriberBulkAction):
    display_name = _("Unsubscribe")
    action_type = "unsubscribe_all"
    aria_label = _("Unsubscribe the selected subscribers from every list")
    question = _("Unsubscribe these subscribers from every list?")
    action_priority = 40

    @staticmethod
    def apply(subscriber, source):
        subscriptions.unsubscribe(subscriber, source=source)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "%(count)d subscriber unsubscribed from every list.",
            "%(count)d subscribers unsubscribed from every list.",
            num_parent_objects,
        ) % {"count": num_parent_objects}


class SuppressBulkAction(_SubscriberBulkAction):
    display_name = _("Suppress")
    action_type = "suppress"
    aria_label = _("Never mail the selected subscribers again")
    question = _("Never mail these addresses again, whatever their subscriptions?")
    action_priority = 50

    @staticmethod
    def apply(subscriber, source):
        subscriptions.suppress(subscriber, Suppression.Reason.MANUAL, source=source)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "%(count)d address suppressed.", "%(count)d addresses suppressed.", num_parent_objects
        ) % {"count": num_parent_objects}


class EraseBulkAction(_SubscriberBulkAction):
    display_name = _("Erase")
    action_type = "erase"
    aria_label = _("Erase the personal data of the selected subscribers")
    question = _(
        "Erase the personal data of these subscribers? Their addresses are kept only as "
        "one-way hashes so that they are never mailed again. This cannot be undone."
    )
    action_priority = 60
    classes = {"serious"}

    def check_perm(self, obj):
        return self.request.user.has_perm("mailing.delete_subscriber")

    @staticmethod
    def apply(subscriber, source):
        if subscriber.status != Subscriber.Status.ERASED:
            subscriptions.erase(subscriber, source=source)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "%(count)d subscriber erased.", "%(count)d subscribers erased.", num_parent_objects
        ) % {"count": num_parent_objects}


class ReconfirmBulkAction(_SubscriberBulkAction):
    display_name = _("Ask to confirm again")
    action_type = "reconfirm"
    aria_label = _("Ask the selected subscribers to confirm their subscriptions again")
    question = _(
        "Ask these subscribers to confirm their subscriptions again? They receive a "
        "confirmation email and no newsletter until they confirm; unconfirmed, their "
        "subscriptions expire like any signup."
    )
    action_priority = 30

    @staticmethod
    def apply(subscriber, source):
        retention.request_reconfirmation(subscriber, source=source)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "%(count)d subscriber asked to confirm again.",
            "%(count)d subscribers asked to confirm again.",
            num_parent_objects,
        ) % {"count": num_parent_objects}


BULK_ACTIONS = (ReconfirmBulkAction, UnsubscribeBulkAction, SuppressBulkAction, EraseBulkAction)
