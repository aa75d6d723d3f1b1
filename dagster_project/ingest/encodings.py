"""Which codec a landing file is read in, and whether its bytes are text at all.

Excel and Windows tools still write Windows-1252; some write UTF-16 with a byte-order
mark. A file that is valid UTF-8 is read as it is; any other is decoded with the
entity's codec (``SMS_LANDING_ENCODINGS``, default ``cp1252``), or refused when the
bytes are binary or do not decode. Codecs only: no DuckDB, no Dagster.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from dagster_project import settings
from dagster_project.ingest.specs import SPECS_BY_ENTITY, SourceSpec

DEFAULT_ENCODING = "cp1252"
_CHUNK = 4 * 1024 * 1024
# C0 controls other than tab, line feed, form feed and carriage return never occur in an
# export's text; after a single-byte decode they mean the bytes were not text at all.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class LandingConfigError(ValueError):
    """``SMS_LANDING_ENCODINGS`` names an unknown entity or codec."""


def encoding_for(spec: SourceSpec) -> str:
    """The codec a non-UTF-8 file of ``spec`` is read in (``SMS_LANDING_ENCODINGS``)."""
    try:
        configured = settings.landing_encodings()
    except ValueError as exc:
        raise LandingConfigError(str(exc)) from exc
    for entity, codec in configured.items():
        if entity not in SPECS_BY_ENTITY:
            raise LandingConfigError(
                f"SMS_LANDING_ENCODINGS: unknown entity {entity!r} "
                f"(known: {', '.join(sorted(SPECS_BY_ENTITY))})"
            )
        try:
            codecs.lookup(codec)
        except LookupError as exc:
            raise LandingConfigError(
                f"SMS_LANDING_ENCODINGS: {entity}={codec}: unknown encoding {codec!r}"
            ) from exc
    return configured.get(spec.entity, DEFAULT_ENCODING)


def is_utf8(path: Path) -> tuple[bool, int | None]:
    """(valid UTF-8, offset of the first NUL byte if any), read in chunks (flat memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                return False, offset + nul
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False, None
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, None
    return True, None


def decode(path: Path, codec: str) -> tuple[str | None, str]:
    """The whole text in ``codec``, or None and why it is not text in that codec."""
    data = path.read_bytes()
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        return None, (
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is neither UTF-8 nor "
            f"{codec}: set SMS_LANDING_ENCODINGS to the file's encoding"
        )
    control = _CONTROL.search(text)
    if control:
        return None, (
            f"control character U+{ord(control.group()):04X} at offset {control.start()} "
            f"when read as {codec}: not a text export"
        )
    return text, ""


def text_head(path: Path, codec: str) -> tuple[str, bool]:
    """(first non-blank line, whether any non-blank text follows it)."""
    with path.open(encoding=codec, newline="") as f:
        first = ""
        for line in f:
            if not first:
                first = line.lstrip("\ufeff").strip("\r\n")
                if not first.strip():
                    first = ""
                continue
            if line.strip():
                return first, True
    return first, False
