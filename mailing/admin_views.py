"""Wagtail admin pages of the audience: CSV import with its report, CSV export of a list."""

import io
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.text import slugify

from mailing.forms import ImportForm
from mailing.importing import ImportFileError, export_csv_lines, import_subscribers
from mailing.models import MailingList


def _reports_dir() -> Path:
    path = Path(settings.SUBSCRIPTION_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_view(request):
    report = rejects_url = error = None
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        mailing_list = form.cleaned_data["mailing_list"]
        report_id = uuid.uuid4().hex
        rejects_path = _reports_dir() / f"{report_id}.csv"
        # Uploads above 2.5 MB sit in a temporary file: read them as a stream.
        source = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
        try:
            with rejects_path.open("w", newline="", encoding="utf-8") as rejects:
                report = import_subscribers(
                    source,
                    mailing_list,
                    confirmed=form.cleaned_data["confirmed"],
                    rejects=rejects,
                    source_label=f"admin import by {request.user}: {upload.name}"[:100],
                )
        except ImportFileError as exc:
            error, report = str(exc), exc.report
        except UnicodeDecodeError as exc:  # in the header line
            error = str(exc)
        finally:
            source.detach()
        if report and report.rejected:
            rejects_url = f"{request.path}{report_id}/rejected.csv"
        else:
            rejects_path.unlink(missing_ok=True)
    return render(
        request,
        "mailing/admin/import.html",
        {"form": form, "report": report, "rejects_url": rejects_url, "error": error},
    )


@permission_required("mailing.add_subscriber", raise_exception=True)
def import_rejects_view(request, report_id):
    path = _reports_dir() / f"{report_id}.csv"
    if not report_id.isalnum() or not path.is_file():
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
