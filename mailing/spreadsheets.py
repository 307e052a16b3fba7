"""Text files as spreadsheets write them, read and written safely.

Reading: the encoding is told by charset-normalizer (byte-order marks, UTF-8, the
Windows code pages Excel writes), the dialect by ``csv.Sniffer``; the whole file is then
decoded and parsed once before anything is imported, so a file that stops being text or
CSV half-way is refused whole, with the line, instead of being half-imported.

Writing: every cell that a spreadsheet would run as a formula is neutralised, and the
text starts with a byte-order mark so that Excel reads UTF-8 (accents intact).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
from django.utils.translation import gettext as _

HEAD_BYTES = 1 << 20  # what the detectors read: enough for any header and many rows
SNIFF_CHARS = 64 * 1024
DELIMITERS = ",;\t|"

#: What spreadsheet programs and mailing tools write: Unicode, then the Windows and Mac
#: code pages of Western, Central and Eastern Europe (preferred in this order on a tie).
ENCODINGS = [
    "utf_8",
    "utf_16",
    "utf_32",
    "cp1252",
    "cp1250",
    "cp1257",
    "cp1251",
    "cp1253",
    "cp1254",
    "iso8859_15",
    "mac_roman",
]

#: Choices offered when detection gets it wrong (the admin form and ``--encoding``).
ENCODING_CHOICES = [
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16 (Excel “Unicode text”)"),
    ("cp1252", "Windows-1252 (Western Europe)"),
    ("cp1250", "Windows-1250 (Central Europe)"),
    ("cp1257", "Windows-1257 (Baltic)"),
    ("cp1251", "Windows-1251 (Cyrillic)"),
    ("iso-8859-15", "ISO-8859-15 (Latin-9)"),
    ("mac_roman", "Mac Roman"),
]
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
    "iso8859-15": "ISO-8859-15",
    "mac-roman": "Mac Roman",
    **{f"cp125{i}": f"Windows-125{i}" for i in range(10)},
}
DELIMITER_CHOICES = [(",", ","), (";", ";"), ("\t", "tab"), ("|", "|")]

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice
# and Google Sheets: OWASP's list for CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FileUnreadable(ValueError):
    """The file is not text in any encoding we know, or not CSV."""


@dataclass(frozen=True)
class TextFormat:
    encoding: str  # a Python codec name
    delimiter: str
    encoding_detected: bool = True  # False when the person chose it
    delimiter_detected: bool = True
    quotechar: str = '"'

    @property
    def encoding_label(self) -> str:
        name = codecs.lookup(self.encoding).name
        return ENCODING_NAMES.get(name, name)

    @property
    def delimiter_label(self) -> str:
        return {"\t": _("tab"), ",": _("comma"), ";": _("semicolon"), "|": _("pipe")}.get(
            self.delimiter, self.delimiter
        )

    def dialect(self) -> type[csv.Dialect]:
        # doublequote is forced: Sniffer sometimes guesses it off, and every tool we read
        # doubles quotes inside quoted cells.
        class Dialect(csv.excel):
            delimiter = self.delimiter
            quotechar = self.quotechar
            doublequote = True
            skipinitialspace = False

        return Dialect


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(HEAD_BYTES)


def _codec(name: str) -> str:
    """The codec that reads a file in ``name`` and drops its byte-order mark."""
    name = codecs.lookup(name).name
    if name in ("utf-8", "ascii"):
        return "utf-8-sig"
    return {"utf-16-le": "utf-16", "utf-16-be": "utf-16", "utf-32-le": "utf-32"}.get(name, name)


def _best(sample: bytes, exclude: Iterable[str] = ()) -> str | None:
    """charset-normalizer's choice among ENCODINGS; ties go to the earlier in the list."""
    if not sample:
        return "utf-8"
    excluded = {codecs.lookup(e).name for e in exclude}
    candidates = [e for e in ENCODINGS if codecs.lookup(e).name not in excluded]
    if not candidates:
        return None
    matches = list(charset_normalizer.from_bytes(sample, cp_isolation=candidates))
    if not matches:
        return None
    order = {codecs.lookup(e).name: i for i, e in enumerate(ENCODINGS)}

    def rank(match):
        name = codecs.lookup(match.encoding).name
        if name == "ascii":
            name = "utf-8"
        # Two decimals of "mess": short files tie between code pages, then the order
        # of ENCODINGS (Excel's Western default first) decides.
        return (round(match.chaos, 2), -round(match.coherence, 2), order.get(name, 99))

    best = min(matches, key=rank).encoding
    return "utf-8" if codecs.lookup(best).name == "ascii" else best


def _first_bad_byte(path: Path, encoding: str) -> int | None:
    """Offset of the first byte that does not decode, streaming the whole file."""
    decoder = codecs.getincrementaldecoder(_codec(encoding))("strict")
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _line_at(path: Path, offset: int) -> int:
    lines, left = 1, offset
    with path.open("rb") as f:
        while left > 0 and (chunk := f.read(min(left, 1 << 20))):
            lines += chunk.count(b"\n")
            left -= len(chunk)
    return lines


def detect_encoding(path: Path) -> str:
    """The file's encoding, checked against every byte of it."""
    head = _head(path)
    tried: list[str] = []
    bad = 0
    encoding = _best(head)
    # A file whose first megabyte is plain ASCII can turn Windows-1252 further down:
    # detect again on the bytes around the first one that does not decode.
    for _attempt in range(4):
        if encoding is None:
            break
        bad = _first_bad_byte(path, encoding)
        if bad is None:
            return encoding
        tried.append(encoding)
        with path.open("rb") as f:
            f.seek(max(0, bad - 32 * 1024))
            window = f.read(64 * 1024)
        encoding = _best(head[:4096] + b"\n" + window, exclude=tried)
    raise FileUnreadable(
        _("The file is not text that we can read (line %(line)d is not in %(encodings)s).")
        % {
            "line": _line_at(path, bad) if tried else 1,
            "encodings": ", ".join(codecs.lookup(e).name for e in tried) or "UTF-8",
        }
    )


def _sniff_delimiter(sample: str) -> str:
    # Whole lines only: a cut line can fool the sniffer.
    if "\n" in sample[:-1]:
        sample = sample[: sample.rfind("\n") + 1]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column (no delimiter at all), or too few lines to tell: the header decides.
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def verify_encoding(path: Path, encoding: str) -> None:
    bad = _first_bad_byte(path, encoding)
    if bad is not None:
        raise FileUnreadable(
            _("Line %(line)d of the file is not %(encoding)s text.")
            % {"line": _line_at(path, bad), "encoding": codecs.lookup(encoding).name}
        )


def detect(path: Path, *, encoding: str = "", delimiter: str = "") -> TextFormat:
    """How to read ``path``: the given encoding/delimiter, or what the detectors tell."""
    encoding_detected = not encoding
    if encoding:
        verify_encoding(path, encoding)
    else:
        encoding = detect_encoding(path)
    with open_text(path, encoding) as f:
        sample = f.read(SNIFF_CHARS)
    return TextFormat(
        encoding=encoding,
        delimiter=delimiter or _sniff_delimiter(sample),
        encoding_detected=encoding_detected,
        delimiter_detected=not delimiter,
    )


def open_text(path: Path, encoding: str):
    return path.open(encoding=_codec(encoding), newline="", errors="strict")


class Rows:
    """CSV rows of a file with the line each starts on (quoted newlines span lines)."""

    def __init__(self, path: Path, fmt: TextFormat):
        self.path, self.format = path, fmt

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with open_text(self.path, self.format.encoding) as f:
            reader = csv.reader(f, self.format.dialect())
            start = 1
            try:
                for cells in reader:
                    yield start, cells
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise FileUnreadable(
                    _("Line %(line)d is not readable CSV (%(error)s).")
                    % {"line": start, "error": exc}
                ) from exc


def strip_neutraliser(value: str) -> str:
    """Undo ``safe_cell`` on a file this system exported: ``'=x`` was ``=x``."""
    if value[:1] == "'" and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


# --- writing --------------------------------------------------------------------------------


def safe_cell(value) -> str:
    """A cell that no spreadsheet runs as a formula (CSV injection): ``'`` before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ")[:1] in FORMULA_STARTS else text


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text for spreadsheets, line by line: a byte-order mark first, every cell safe."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


class SafeWriter:
    """``csv.writer`` on an open text file, with the byte-order mark and safe cells."""

    def __init__(self, stream):
        self.stream = stream
        self.writer = None

    def writerow(self, row):
        if self.writer is None:
            self.stream.write("\ufeff")
            self.writer = csv.writer(self.stream)
        self.writer.writerow([safe_cell(cell) for cell in row])
