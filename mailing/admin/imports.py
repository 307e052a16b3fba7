"""Audience admin pages: CSV import (run by the worker) with its report and rejected rows,
and CSV export of a list."""

import uuid

from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.text import slugify

from mailing.admin.forms import ImportForm
from mailing.importing import export_csv_lines, job_paths, read_job_status, write_job_status
from mailing.models import MailingList


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_view(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        from django_q.tasks import async_task

        upload = form.cleaned_data["file"]
        mailing_list = form.cleaned_data["mailing_list"]
        job_id = uuid.uuid4().hex
        with job_paths(job_id)["upload"].open("wb") as saved:
            for chunk in upload.chunks():
                saved.write(chunk)
        write_job_status(
            job_id,
            status="queued",
            file=upload.name,
            list=mailing_list.name,
            by=str(request.user),
            at=timezone.now().isoformat(),
        )
        args = (
            job_id,
            mailing_list.pk,
            form.cleaned_data["confirmed"],
            f"admin import by {request.user}: {upload.name}"[:100],
        )
        transaction.on_commit(lambda: async_task("mailing.importing.run_import_job", *args))
        return redirect("mailing_import_job", job_id=job_id)
    return render(request, "mailing/admin/import.html", {"form": form})


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_job_view(request, job_id):
    status = read_job_status(job_id) if job_id.isalnum() else None
    if status is None:
        raise Http404
    rejects_url = None
    if status.get("rejected") and job_paths(job_id)["rejects"].is_file():
        rejects_url = f"{request.path}rejected.csv"
    return render(
        request,
        "mailing/admin/import_job.html",
        {
            "job": status,
            "running": status["status"] in ("queued", "running"),
            "rejects_url": rejects_url,
        },
    )


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_rejects_view(request, job_id):
    if not job_id.isalnum():
        raise Http404
    path = job_paths(job_id)["rejects"]
    if not path.is_file():
        raise Http404
    return FileResponse(
        path.open("rb"), as_attachment=True, filename="rejected-rows.csv", content_type="text/csv"
    )


@permission_required("mailing.view_subscriber", raise_exception=True)
def export_list_view(request, pk):
    mailing_list = get_object_or_404(MailingList, pk=pk)
    status = request.GET.get("status") or None
    response = StreamingHttpResponse(
        export_csv_lines(mailing_list, status=status), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(mailing_list.slug)}-subscribers-{stamp}.csv"'
    )
    return response


def urls():
    return [
        path("mailing/import/", import_view, name="mailing_import"),
        path("mailing/import/<str:job_id>/", import_job_view, name="mailing_import_job"),
        path(
            "mailing/import/<str:job_id>/rejected.csv",
            import_rejects_view,
            name="mailing_import_rejects",
        ),
        path("mailing/lists/<int:pk>/export.csv", export_list_view, name="mailing_export_list"),
    ]
