"""Gives converters a secret in clear only when the caller asked for it; otherwise a fixed mask."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import SecretStr

from provisioner.render.errors import RenderError

MASK = "********"  # same length whatever the secret, so the mask leaks nothing

Quote = Callable[[str], str]


class SecretView:
    def __init__(self, show: bool, credentials: Mapping[str, SecretStr] | None = None):
        self.show = show
        self.credentials = dict(credentials or {})
        self.masked: list[str] = []

    def __call__(self, secret: SecretStr | None, label: str, quote: Quote | None = None) -> str | None:
        """The secret's value, or MASK when secrets are hidden; `label` names it in the masked list.

        With `quote`, returns the quoted value (or the quoted mask). The real value is quoted either way,
        so a secret the platform cannot carry fails a masked render too, not only the push.
        """
        if secret is None:
            return None
        clear = secret.get_secret_value()
        value = quote(clear) if quote else clear
        if self.show:
            return value
        if label not in self.masked:
            self.masked.append(label)
        return quote(MASK) if quote else MASK

    def ref(self, ref: str, label: str, quote: Quote | None = None) -> str:
        """A credential the intent names by reference (e.g. an SNMP community in the secret store).

        Masked renders do not need it; a render with show_secrets=True without it is refused.
        """
        secret = self.credentials.get(ref)
        if secret is None:
            if self.show:
                raise RenderError(f"credential {ref!r} ({label}) was not supplied to the renderer")
            secret = SecretStr(MASK)
        result = self(secret, label, quote)
        assert result is not None
        return result
