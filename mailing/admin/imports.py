"""Audience admin pages: the import (upload, preview, import, report, confirmation emails
for the people left pending) and the CSV export of a list. The work is in
``mailing.import_jobs`` and ``mailing.exporting``; these views only call it."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from mailing import import_jobs
from mailing.admin.forms import ImportForm
from mailing.exporting import csv_response, export_rows
from mailing.importing import REASONS, ImportFileError, ImportReport
from mailing.models import MailingList, Subscription


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_view(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job_id = import_jobs.create_job(
                upload.chunks(),
                filename=upload.name,
                mailing_list=form.cleaned_data["mailing_list"],
                confirmed=form.cleaned_data["confirmed"],
                user=request.user,
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("mailing_import_job", job_id=job_id)
    return render(request, "mailing/admin/import.html", {"form": form})


def _job_or_404(job_id):
    job = import_jobs.read_job(job_id) if import_jobs.is_job_id(job_id) else None
    if job is None:
        raise Http404
    return job


def _count_rows(counts: dict | None) -> list[tuple[str, int]]:
    if not counts:
        return []
    report = ImportReport.from_dict(counts)
    return [(label, n) for reason, label, n in report.counts() if not reason or n]


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_job_view(request, job_id):
    job = _job_or_404(job_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "import" and import_jobs.start_job(job_id):
            messages.success(request, _("Import started."))
        elif action == "cancel":
            import_jobs.cancel_job(job_id)
            messages.success(request, _("Import cancelled; nothing was imported."))
            return redirect("mailing_import")
        return redirect("mailing_import_job", job_id=job_id)
    rejects_url = None
    if (job.get("report") or {}).get("rejected") and import_jobs.job_paths(job_id)[
        "rejects"
    ].is_file():
        rejects_url = reverse("mailing_import_rejects", args=[job_id])
    pending = 0
    if job["status"] == "done" and not job.get("confirmations"):
        pending = len(import_jobs.pending_of_import(job_id))
    return render(
        request,
        "mailing/admin/import_job.html",
        {
            "job": job,
            "job_id": job_id,
            "running": job["status"] in ("analysing", "queued", "running"),
            "expected": _count_rows(job.get("expected")),
            "report": _count_rows(job.get("report")),
            "rows_read": (job.get("report") or job.get("expected") or {}).get("rows"),
            "rejects_url": rejects_url,
            "pending": pending,
            "reasons": REASONS,
        },
    )


@require_POST
@permission_required("mailing.add_subscriber", raise_exception=True)
def import_confirmations_view(request, job_id):
    job = _job_or_404(job_id)
    if job["status"] != "done":
        raise Http404
    if job.get("confirmations"):
        messages.warning(request, _("The confirmation emails were already sent for this import."))
    else:
        people = import_jobs.queue_confirmations(job_id, by=str(request.user))
        messages.success(
            request,
            ngettext(
                "The confirmation email is on its way to %(count)d person.",
                "The confirmation email is on its way to %(count)d people.",
                people,
            )
            % {"count": people},
        )
    return redirect("mailing_import_job", job_id=job_id)


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_rejects_view(request, job_id):
    if not import_jobs.is_job_id(job_id):
        raise Http404
    path = import_jobs.job_paths(job_id)["rejects"]
    if not path.is_file():
        raise Http404
    return FileResponse(
        path.open("rb"), as_attachment=True, filename="rejected-rows.csv", content_type="text/csv"
    )


@permission_required("mailing.view_subscriber", raise_exception=True)
def export_list_view(request, pk):
    mailing_list = get_object_or_404(MailingList, pk=pk)
    status = request.GET.get("status")
    if status not in Subscription.Status.values:
        status = None
    return csv_response(
        export_rows(mailing_list=mailing_list, status=status),
        f"{mailing_list.slug}-subscribers",
    )


def urls():
    return [
        path("mailing/import/", import_view, name="mailing_import"),
        path("mailing/import/<str:job_id>/", import_job_view, name="mailing_import_job"),
        path(
            "mailing/import/<str:job_id>/confirmations/",
            import_confirmations_view,
            name="mailing_import_confirmations",
        ),
        path(
            "mailing/import/<str:job_id>/rejected.csv",
            import_rejects_view,
            name="mailing_import_rejects",
        ),
        path("mailing/lists/<int:pk>/export.csv", export_list_view, name="mailing_export_list"),
    ]
