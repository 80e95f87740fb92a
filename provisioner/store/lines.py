"""Stored lines for callers outside the API (the CLI's `diagnose <お客様ID>`)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from provisioner.record import LineRecord, parse_line
from provisioner.secrets import SecretBox, unseal
from provisioner.settings import get_settings
from provisioner.store.db import Database
from provisioner.store.models import Line


def load_line_record(customer_id: str) -> LineRecord:
    """The stored record with its secrets decrypted, validated as of its acceptance date. LookupError if absent."""
    settings = get_settings()
    db = Database.from_settings(settings)
    with db.read() as s:
        try:
            line = s.get(Line, customer_id)
        except OperationalError:  # no database yet: nothing was ever activated here
            line = None
        if line is None:
            raise LookupError(f"no stored line {customer_id} (in {settings.sqlalchemy_url.split('///')[-1]})")
        return parse_line(unseal(line.record, SecretBox.from_settings(settings)), today=line.accepted_on)
