"""``POST /demo/imports`` (a CSV upload) and ``GET /demo/imports/{id}`` (its progress).

The upload is checked whole first (encoding, header, at least one row: 422 with one
sentence otherwise), then stored in chunks with one task per chunk, and answered 202.
The status shows chunks done, contacts created/updated, duplicates merged, and the
bad rows with their line numbers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile, status

from stalwart.demo.api.context import CrmContext, crm
from stalwart.demo.api.ids import RowId
from stalwart.demo.importing import jobs
from stalwart.demo.importing.csvfile import UploadRefused, read_upload

__all__ = ["IMPORT_LIMIT", "router"]

IMPORT_LIMIT = 20 * 1024 * 1024
router = APIRouter()


@router.post(
    "/demo/imports",
    status_code=status.HTTP_202_ACCEPTED,
    responses={413: {"description": "Larger than 20 MiB"}, 422: {}},
)
def upload_contacts(
    file: Annotated[UploadFile, File(description="CSV, UTF-8, with a 'phone' column")],
    context: Annotated[CrmContext, Depends(crm)],
) -> dict[str, Any]:
    """Import contacts from a CSV file (columns: phone, and optionally name, segment)."""
    data = file.file.read()
    try:
        upload = read_upload(file.filename or "upload.csv", data)
    except UploadRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    return jobs.start(context.engine, upload)


@router.get("/demo/imports/{import_id}", responses={404: {}})
def import_progress(
    import_id: RowId, context: Annotated[CrmContext, Depends(crm)]
) -> dict[str, Any]:
    """An import's progress, counts and bad rows (line numbers)."""
    return jobs.import_status(context.engine, import_id)
