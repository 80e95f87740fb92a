"""Loading stored lines and CPEs for the routes (404 when absent)."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from provisioner.record import LineRecord, RecordError, parse_line
from provisioner.secrets import REDACTOR, SecretBox, secret_values, unseal
from provisioner.store.models import Cpe, Line


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, {"error": "not-found", "message": f"no {what}"})


def get_line(s: Session, line_id: str) -> Line:
    line = s.get(Line, line_id)
    if line is None:
        raise not_found(f"line {line_id}")
    return line


def get_cpe(s: Session, cpe_id: str) -> Cpe:
    cpe = s.get(Cpe, cpe_id)
    if cpe is None:
        raise not_found(f"CPE {cpe_id}")
    return cpe


def line_record(line: Line, box: SecretBox) -> LineRecord:
    """The stored record with its secrets decrypted (registered with the redactor for this request)."""
    try:
        record = parse_line(unseal(line.record, box), today=line.accepted_on)
    except RecordError as err:  # the catalog changed since it was accepted
        raise HTTPException(status.HTTP_409_CONFLICT, {
            "error": "stored-record-invalid",
            "message": f"the stored record of {line.id} no longer validates: "
                       + "; ".join(f"{p.field}: {p.reason}" for p in err.problems),
        }) from None
    REDACTOR.scope(secret_values(record))
    return record
