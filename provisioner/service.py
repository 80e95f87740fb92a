"""The service layer: what the CLI and the API both call. Each function is one step of the pipeline
line record → intent → config → push → verify → report."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass as _dataclass
from pathlib import Path
from typing import Any
from typing import Protocol as _Protocol

from pydantic import SecretStr as _SecretStr

from provisioner.catalog import get_catalog
from provisioner.drivers import Target as _Target
from provisioner.intent import Intent, build_intent
from provisioner.provision import (
    ProvisionItem,
    ProvisionOptions,
    ProvisionReport,
    provision,
    provision_many,
)
from provisioner.record import LineRecord, load_line, parse_line
from provisioner.render import RenderedConfig, get_platform, render
from provisioner.sessionlog import JobSecrets as _JobSecrets

HGW_PLATFORM = "ntt-hgw"


def read_line(source: str | Path | dict[str, Any], *, today: dt.date | None = None) -> LineRecord:
    """A record from a file path or an already-decoded mapping; raises RecordError."""
    if isinstance(source, dict):
        return parse_line(source, today=today)
    return load_line(source, today=today)


def line_intent(record: LineRecord) -> Intent:
    """Raises IntentRefused when the line cannot have what the record asks for."""
    return build_intent(record, get_catalog())


def default_platforms(intent: Intent) -> list[str]:
    """The platforms this line's own equipment runs: its router's, and the HGW's when it has one."""
    out = []
    if intent.router:
        out.append(intent.router.platform)
    if intent.hgw:
        out.append(HGW_PLATFORM)
    return out


def render_line(
    record: LineRecord, platform: str | None = None, *, show_secrets: bool = False
) -> list[RenderedConfig]:
    """Render the line for one platform (any platform may render the router's intent), or for all of the
    line's own devices when platform is None. Raises IntentRefused or Unsupported."""
    intent = line_intent(record)
    names = [platform] if platform else default_platforms(intent)
    return [render(intent, get_platform(name), show_secrets=show_secrets) for name in names]


# ---- provisioning: push a line's config to its CPE (provisioner.provision) ---------------------------------


class ProvisionError(ValueError):
    """The line cannot be pushed as asked (no pushable device, no management address, no credential)."""


@_dataclass(frozen=True)
class Login:
    username: str
    password: _SecretStr | None = None
    secret: _SecretStr | None = None  # enable / administrator password
    key_file: str | None = None


class CredentialResolver(_Protocol):
    """Where device logins and render-time secrets (e.g. the SNMP community a record names by reference)
    come from: the encrypted credential store in service, the running lab in tests and the demo."""

    def login(self, ref: str, host: str) -> Login: ...

    def render_secret(self, ref: str, host: str) -> _SecretStr | None: ...


class StoreCredentials:
    """provisioner.credentials.CredentialStore behind the resolver protocol."""

    def __init__(self, store=None):
        if store is None:
            from provisioner.credentials import CredentialStore

            store = CredentialStore.from_settings()
        self.store = store

    def login(self, ref: str, host: str) -> Login:
        from provisioner.credentials import CredentialError

        try:
            c = self.store.get(ref)
        except CredentialError as exc:
            raise ProvisionError(str(exc)) from None
        return Login(username=c.username, password=c.password, secret=c.secret)

    def render_secret(self, ref: str, host: str) -> _SecretStr | None:
        from provisioner.credentials import CredentialError

        try:
            return self.store.get(ref).password
        except CredentialError:
            return None


class LabCredentials:
    """The running lab's CPE logins and SNMP communities, found by management address (tests, demo)."""

    def __init__(self, lab=None):
        if lab is None:
            from lab import Lab

            lab = Lab.load()
        self.lab = lab

    def cpe(self, host: str):
        for cpe in self.lab.cpes:
            if cpe.mgmt_ip == host:
                return cpe
        raise ProvisionError(f"no lab CPE at {host}")

    def login(self, ref: str, host: str) -> Login:
        cpe = self.cpe(host)
        return Login(username=cpe.ssh_user, password=cpe.ssh_password, key_file=cpe.ssh_key_path)

    def render_secret(self, ref: str, host: str) -> _SecretStr | None:
        cpe = self.cpe(host)
        if ref.startswith("snmpv3/"):
            return cpe.snmp_auth_key if ref.endswith("/auth") else cpe.snmp_priv_key
        return cpe.snmp_community


def pushable_platform(intent: Intent, platform: str | None = None) -> str:
    """The platform a push goes to: the one asked for, else the line's router (an NTT HGW takes no push)."""
    if platform:
        return platform
    if intent.router is None:
        raise ProvisionError(f"line {intent.customer_id} has no router to push to (the HGW is configured by "
                             "NTT's equipment, not by this service)")
    return intent.router.platform


def prepare_push(
    record: LineRecord,
    *,
    platform: str | None = None,
    target: _Target | None = None,
    resolver: CredentialResolver | None = None,
) -> ProvisionItem:
    """Everything one push needs: the target (address and login), the config rendered in clear and the
    DeviceIntent to verify against. Raises RecordError/IntentRefused, Unsupported or ProvisionError."""
    intent = line_intent(record)
    name = pushable_platform(intent, platform)
    plat = get_platform(name)
    device = intent.device(plat.default_role)
    if target is None:
        resolver = resolver or StoreCredentials()
        target = _management_target(record, name, resolver)
    elif target.platform != name:
        raise ProvisionError(f"target is a {target.platform} CPE but the push is for {name}")
    credentials: dict[str, _SecretStr] = {}
    rendered = _render_resolving(intent, plat, credentials, resolver, target.host)
    return ProvisionItem(target=target, rendered=rendered, device=device,
                         secrets=_JobSecrets(credentials.values()))


_MISSING_CREDENTIAL = re.compile(r"credential '([^']+)' \(")


def _render_resolving(intent: Intent, plat, credentials: dict, resolver: CredentialResolver | None, host: str):
    """Render in clear, resolving each credential the renderer names by reference as it asks for it
    (SNMP communities, SNMPv3 keys). The renderer has no list of what it will ask for, so ask and retry;
    the credential store is opened only when a reference needs it."""
    from provisioner.render import RenderError

    for _ in range(8):
        try:
            return render(intent, plat, show_secrets=True, credentials=credentials)
        except RenderError as exc:
            m = _MISSING_CREDENTIAL.search(str(exc))
            if not m or m.group(1) in credentials:
                raise
            resolver = resolver or StoreCredentials()
            value = resolver.render_secret(m.group(1), host)
            if value is None:
                raise ProvisionError(f"no credential {m.group(1)!r} for this line's configuration") from None
            credentials[m.group(1)] = value
    raise ProvisionError("the renderer kept asking for credentials")


def provision_line(
    record: LineRecord,
    *,
    platform: str | None = None,
    target: _Target | None = None,
    dry_run: bool = False,
    resolver: CredentialResolver | None = None,
    options: ProvisionOptions | None = None,
    job_id: str | None = None,
) -> ProvisionReport:
    """Push the line's config to its CPE: verified and saved, or restored, with the reason (see
    provisioner.provision). dry_run reads and diffs only."""
    item = prepare_push(record, platform=platform, target=target, resolver=resolver)
    return provision(item.target, item.rendered, item.device, dry_run=dry_run, options=options,
                     job_id=job_id, secrets=item.secrets)


def provision_lines(
    records: list[LineRecord],
    *,
    concurrency: int = 20,
    dry_run: bool = False,
    resolver: CredentialResolver | None = None,
    options: ProvisionOptions | None = None,
    on_done=None,
) -> list[ProvisionReport]:
    """Many lines at once (bounded thread pool, one SSH session per thread); reports in record order."""
    items = [prepare_push(r, resolver=resolver) for r in records]
    return provision_many(items, concurrency=concurrency, dry_run=dry_run, options=options, on_done=on_done)


def fill_from_lab(data: dict[str, Any], cpe) -> dict[str, Any]:
    """A lab line record (examples/lab/) completed with the running lab CPE's values: its management
    address and, on PPPoE lines, the ISP account the lab's BRAS knows (lab.CpeInfo)."""
    out = {**data, "management": {**(data.get("management") or {}), "address": cpe.mgmt_ip}}
    pppoe = ((data.get("isp") or {}).get("pppoe")) if data.get("isp") else None
    if pppoe is not None and cpe.isp_user and cpe.isp_password is not None:
        out["isp"] = {**data["isp"], "pppoe": {"username": cpe.isp_user,
                                                "password": cpe.isp_password.get_secret_value()}}
    return out


def stored_line(customer_id: str) -> LineRecord:
    """A line the API has stored, by お客様ID (secrets decrypted). Raises LookupError."""
    from provisioner.store.lines import load_line_record

    return load_line_record(customer_id)


def diagnose_line(
    record: LineRecord,
    *,
    resolver: CredentialResolver | None = None,
    snmp: bool = True,
    probe_iface: str | None = None,
    probe_password: str | None = None,
):
    """The 一次切り分け ladder over every source available: the CPE's CLI and SNMP agent, and a PPPoE probe
    from `probe_iface` (a technician's port on the ONU) when given. Returns a checks.ladder.Diagnosis."""
    from provisioner.checks.observe import SnmpAccess, diagnose

    intent = line_intent(record)
    device = intent.router or intent.hgw
    assert device is not None
    target, access = None, None
    mgmt = record.management
    if intent.router is not None and mgmt is not None:
        resolver = resolver or StoreCredentials()
        try:
            target = _management_target(record, intent.router.platform, resolver)
        except ProvisionError:
            target = None
        if snmp:
            # The NOC's read community, even when the record renders no SNMP config of its own.
            community = resolver.render_secret(mgmt.snmp_community_ref or "snmp-community", str(mgmt.address))
            access = SnmpAccess(community=community) if community else None
    probe = None
    if probe_iface and device.pppoe:
        from provisioner.checks.pppoe_probe import probe_pppoe

        session = device.pppoe[0]
        password = probe_password or session.password.get_secret_value()
        probe = probe_pppoe(probe_iface, user=session.username, password=password)
    return diagnose(record, device, target=target, snmp=access, probe=probe)


def _management_target(record: LineRecord, platform: str, resolver: CredentialResolver) -> _Target:
    """The rental router's management session, with the login its credential reference names."""
    mgmt = record.management
    if mgmt is None:
        raise ProvisionError(f"line {record.customer_id} has no management section (address, credential_ref)")
    host = str(mgmt.address)
    login = resolver.login(mgmt.credential_ref, host)
    return _Target(host=host, port=mgmt.port, platform=platform, username=login.username,
                   password=login.password, secret=login.secret, key_file=login.key_file,
                   name=record.customer_id)


def cpe_status(record: LineRecord, *, role: str = "router", resolver: CredentialResolver | None = None):
    """The line's CPE as its own CLI reports it now (checks.cpe_status.CpeStatus). Only the rental router
    has a management session; the home gateway (NTT's) is read through the router's view or not at all."""
    from provisioner.checks.cpe_status import read_cpe_status

    intent = line_intent(record)
    if role != "router" or intent.router is None:
        raise ProvisionError(f"line {record.customer_id}: only the rental router is managed; no live status "
                             f"for its {role}")
    device = intent.router
    target = _management_target(record, device.platform, resolver or StoreCredentials())
    return read_cpe_status(target, pppoe_sessions=len(device.pppoe), tunnel=device.tunnel is not None,
                           wifi=bool(device.wifi))
