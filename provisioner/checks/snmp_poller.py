"""SNMP poller for many CPEs at once (pysnmp 7, asyncio): uptime, name and interface status and counters.

One `SnmpEngine` serves every target. Each target is polled with GETBULK over the interface columns
(few round trips) and bounded by its own deadline, so a dead or slow CPE never holds up the others.

SNMPv3 agents are told apart by their engine ID: CPEs commonly share a user name with per-CPE keys, and
pysnmp keeps one USM row per (engine ID, user). So the poller discovers each agent's engine ID first
(RFC 3414 §4, one unauthenticated round trip, cached per address) and registers the user for that engine;
registering by name alone would let concurrent targets overwrite each other's keys.

Results carry no secret: neither community nor keys appear in them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

SYS_UPTIME = "1.3.6.1.2.1.1.3"
SYS_NAME = "1.3.6.1.2.1.1.5"
IF_NUMBER = "1.3.6.1.2.1.2.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
COLUMNS = {"descr": IF_DESCR, "oper_status": IF_OPER_STATUS, "name": IF_NAME,
           "hc_in_octets": IF_HC_IN_OCTETS, "hc_out_octets": IF_HC_OUT_OCTETS}
OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent",
               7: "lowerLayerDown"}
SCALARS = (SYS_UPTIME, SYS_NAME, IF_NUMBER)  # GETBULK non-repeaters: each returns the .0 instance
FIRST_REPETITIONS = 8    # rows asked for in the first PDU to an agent whose ifNumber is not known yet
MAX_REPETITIONS = 32
MAX_BULK_ROUNDS = 64
# pysnmp error indications (pysnmp.proto.errind) that mean "wrong credentials" rather than "no answer".
AUTH_ERRORS = {"UnknownUserName", "WrongDigest", "DecryptionError", "UnsupportedSecurityLevel",
               "UnknownSecurityName", "AuthenticationFailure", "AuthenticationError", "NotInTimeWindow",
               "UnknownCommunityName", "UnknownEngineID", "EngineIDMismatch"}


class SnmpTarget(BaseModel):
    """One agent: v2c (community) or v3 authPriv (user with SHA auth and AES privacy keys)."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int = Field(default=161, ge=1, le=65535)
    community: SecretStr | None = None
    v3_user: str | None = None
    v3_auth_key: SecretStr | None = None
    v3_priv_key: SecretStr | None = None

    @model_validator(mode="after")
    def _one_security_model(self) -> SnmpTarget:
        if not self.host:
            raise ValueError("host is empty")
        if (self.community is None) == (self.v3_user is None):
            raise ValueError("give either a community (v2c) or a v3 user (v3), exactly one")
        if self.v3_user is not None:
            for name, key in (("v3_auth_key", self.v3_auth_key), ("v3_priv_key", self.v3_priv_key)):
                if key is None or len(key.get_secret_value()) < 8:
                    raise ValueError(f"{name} is required for v3 authPriv and has at least 8 characters")
        return self

    @property
    def version(self) -> Literal["v2c", "v3"]:
        return "v3" if self.v3_user is not None else "v2c"


class InterfaceStatus(BaseModel):
    index: int
    descr: str | None = None
    name: str | None = None
    oper_status: str | None = None
    hc_in_octets: int | None = None
    hc_out_octets: int | None = None


class SnmpPollResult(BaseModel):
    host: str
    port: int
    version: Literal["v2c", "v3"]
    ok: bool
    reason: str | None = Field(default=None, description="timeout | auth | snmp-error | error; None when ok")
    error: str | None = None
    sys_uptime_ticks: int | None = None
    sys_name: str | None = None
    interfaces: list[InterfaceStatus] = Field(default_factory=list)
    elapsed_ms: float

    @property
    def sys_uptime_s(self) -> float | None:
        return None if self.sys_uptime_ticks is None else self.sys_uptime_ticks / 100.0


class _PollError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- SNMPv3 engine ID discovery (RFC 3414 §4) ------------------------------------------------------

def _ber(tag: int, content: bytes) -> bytes:
    if len(content) < 0x80:
        return bytes((tag, len(content))) + content
    size = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def _ber_int(value: int) -> bytes:
    return _ber(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def discovery_request(msg_id: int, request_id: int) -> bytes:
    """An SNMPv3 GetRequest with empty engine ID and user, reportable: the agent answers with a Report
    carrying its engine ID."""
    header = _ber(0x30, _ber_int(msg_id) + _ber_int(65507) + _ber(0x04, b"\x04") + _ber_int(3))
    usm = _ber(0x30, _ber(0x04, b"") + _ber_int(0) + _ber_int(0) + _ber(0x04, b"") * 3)
    pdu = _ber(0xA0, _ber_int(request_id) + _ber_int(0) + _ber_int(0) + _ber(0x30, b""))
    scoped = _ber(0x30, _ber(0x04, b"") + _ber(0x04, b"") + pdu)
    return _ber(0x30, _ber_int(3) + header + _ber(0x04, usm) + scoped)


def engine_id_from_report(data: bytes, msg_id: int) -> bytes:
    from pyasn1.codec.ber import decoder
    from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message
    from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

    message, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
    if int(message["msgGlobalData"]["msgID"]) != msg_id:
        raise ValueError("answer to another message")
    params, _ = decoder.decode(bytes(message["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    engine_id = bytes(params["msgAuthoritativeEngineId"])
    if not engine_id:
        raise ValueError("report without an engine ID")
    return engine_id


class _OneAnswer(asyncio.DatagramProtocol):
    def __init__(self, msg_id: int) -> None:
        self.msg_id = msg_id
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.answer.done():
            return
        try:
            self.answer.set_result(engine_id_from_report(data, self.msg_id))
        except Exception:
            pass  # not our answer; keep waiting

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def discover_engine_id(host: str, port: int, timeout: float, retries: int) -> bytes:
    loop = asyncio.get_running_loop()
    msg_id = random.randrange(1, 2**31)
    transport, protocol = await loop.create_datagram_endpoint(lambda: _OneAnswer(msg_id), remote_addr=(host, port))
    try:
        for _ in range(retries + 1):
            transport.sendto(discovery_request(msg_id, random.randrange(1, 2**31)))
            try:
                return await asyncio.wait_for(asyncio.shield(protocol.answer), timeout)
            except TimeoutError:
                continue
        raise _PollError("timeout", f"no answer to SNMPv3 engine discovery within {timeout * (retries + 1):g} s")
    except OSError as exc:
        raise _PollError("error", f"engine discovery: {exc}") from exc
    finally:
        transport.close()


# --- polling ----------------------------------------------------------------------------------------

class SnmpPoller:
    """Polls targets with one SnmpEngine; keep it to poll the same CPEs again (engine IDs, transports and
    table sizes stay cached).

    Use inside one event loop and close it with `close()`. Within one poll, give an agent one set of
    credentials per v3 user (pysnmp keeps one key set per engine ID and user).
    """

    def __init__(self, *, timeout: float = 1.0, retries: int = 1, concurrency: int = 100,
                 deadline: float | None = None) -> None:
        from pysnmp.hlapi.v3arch.asyncio import ObjectIdentity, ObjectType, SnmpEngine

        if timeout <= 0 or retries < 0 or concurrency < 1:
            raise ValueError("timeout must be positive, retries ≥ 0, concurrency ≥ 1")
        self.timeout = timeout
        self.retries = retries
        # Engine discovery, then a few GETBULK rounds, each allowed its retries: beyond that the target
        # is declared dead so it cannot stall the poll.
        self.deadline = deadline or timeout * (retries + 1) * 4
        self._semaphore = asyncio.Semaphore(concurrency)
        self._engine = SnmpEngine()
        self._engine_ids: dict[tuple[str, int], bytes] = {}
        self._if_count: dict[tuple[str, int], int] = {}
        self._transports: dict[tuple[str, int], Any] = {}
        # Built once: pysnmp resolves each var-bind against its MIB view the first time only.
        self._first_request = [ObjectType(ObjectIdentity(oid)) for oid in (*SCALARS, *COLUMNS.values())]

    async def poll(self, targets: Iterable[SnmpTarget]) -> list[SnmpPollResult]:
        return list(await asyncio.gather(*(self._bounded(target) for target in targets)))

    def close(self) -> None:
        self._engine.close_dispatcher()

    async def _bounded(self, target: SnmpTarget) -> SnmpPollResult:
        async with self._semaphore:
            t0 = time.monotonic()
            fields: dict[str, Any]
            try:
                fields = await asyncio.wait_for(self._poll_one(target), self.deadline)
                fields["ok"] = True
            except TimeoutError:
                fields = {"ok": False, "reason": "timeout", "error": f"no complete answer within {self.deadline:g} s"}
            except _PollError as exc:
                fields = {"ok": False, "reason": exc.reason, "error": str(exc)}
                if exc.reason == "auth":
                    self._engine_ids.pop((target.host, target.port), None)  # the agent may have a new engine ID
            except Exception as exc:  # one broken target must not break the poll of the others
                fields = {"ok": False, "reason": "error", "error": f"{type(exc).__name__}: {exc}"}
            return SnmpPollResult(host=target.host, port=target.port, version=target.version,
                                  elapsed_ms=round((time.monotonic() - t0) * 1000.0, 3), **fields)

    async def _auth(self, target: SnmpTarget) -> Any:
        from pysnmp.hlapi.v3arch.asyncio import (
            USM_AUTH_HMAC96_SHA,
            USM_PRIV_CFB128_AES,
            CommunityData,
            UsmUserData,
        )

        if target.community is not None:
            return CommunityData(target.community.get_secret_value(), mpModel=1)
        key = (target.host, target.port)
        if key not in self._engine_ids:
            self._engine_ids[key] = await discover_engine_id(target.host, target.port, self.timeout, self.retries)
        assert target.v3_auth_key is not None and target.v3_priv_key is not None  # checked by SnmpTarget
        return UsmUserData(target.v3_user, target.v3_auth_key.get_secret_value(),
                           target.v3_priv_key.get_secret_value(), authProtocol=USM_AUTH_HMAC96_SHA,
                           privProtocol=USM_PRIV_CFB128_AES, securityEngineId=self._engine_ids[key])

    async def _poll_one(self, target: SnmpTarget) -> dict[str, Any]:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, Udp6TransportTarget, UdpTransportTarget, bulk_cmd

        key = (target.host, target.port)
        auth = await self._auth(target)
        if key not in self._transports:  # resolving the address goes through a thread: once per agent
            transport_class = Udp6TransportTarget if ":" in target.host else UdpTransportTarget
            self._transports[key] = await transport_class.create(key, timeout=self.timeout, retries=self.retries)
        transport = self._transports[key]
        table = _TableWalk()
        # Round 0: the scalars as non-repeaters, then as many rows of each column as the agent had last time
        # (ifNumber), so a CPE is usually read in one PDU with nothing past the end of its table.
        request, non_repeaters = self._first_request, len(SCALARS)
        repetitions = self._if_count.get(key, FIRST_REPETITIONS)
        fields: dict[str, Any] = {}
        for round_no in range(MAX_BULK_ROUNDS):
            error_indication, error_status, error_index, var_binds = await bulk_cmd(
                self._engine, auth, transport, ContextData(), non_repeaters, repetitions, *request,
                lookupMib=False)
            _raise_on_error(error_indication, error_status, error_index)
            binds = [(str(vb[0]), vb[1]) for vb in var_binds]
            if round_no == 0:
                fields.update(_scalars(binds[:non_repeaters]))
                binds = binds[non_repeaters:]
                if "if_number" in fields:
                    self._if_count[key] = max(1, fields["if_number"])
            table.add(binds)
            remaining = table.remaining(fields.get("if_number"))
            if remaining == 0 or not binds:
                break
            request, non_repeaters = table.continuation(), 0
            repetitions = max(1, min(remaining, MAX_REPETITIONS))
        else:
            raise _PollError("snmp-error", "the interface table does not end")
        fields.pop("if_number", None)
        fields["interfaces"] = table.interfaces()
        return fields


class _TableWalk:
    """Rows of the interface columns collected over GETBULK rounds; a column ends when it leaves its subtree."""

    def __init__(self) -> None:
        self.cursors: dict[str, str] = dict(COLUMNS)  # column → last OID seen, for columns still going
        self.rows: dict[int, dict[str, Any]] = {}
        self.seen: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def add(self, binds: list[tuple[str, Any]]) -> None:
        from pysnmp.proto.rfc1905 import EndOfMibView

        names = list(self.cursors)  # the repeaters of this round, in request order
        ended: set[str] = set()
        for position, (oid, value) in enumerate(binds):
            column = names[position % len(names)]
            base = COLUMNS[column]
            if column in ended:
                continue
            if isinstance(value, EndOfMibView) or not oid.startswith(base + "."):
                ended.add(column)
                continue
            index = int(oid[len(base) + 1 :].split(".")[0])
            self.rows.setdefault(index, {"index": index})[column] = _column_value(column, value)
            self.cursors[column] = oid
            self.seen[column] += 1
        for column in ended:
            del self.cursors[column]

    def remaining(self, if_number: int | None) -> int:
        """Rows still to fetch (0: done); without ifNumber, keep going until every column has ended."""
        if not self.cursors:
            return 0
        if if_number is None:
            return MAX_REPETITIONS
        return max(0, if_number - min(self.seen[column] for column in self.cursors))

    def continuation(self) -> list[Any]:
        from pysnmp.hlapi.v3arch.asyncio import ObjectIdentity, ObjectType

        return [ObjectType(ObjectIdentity(oid)) for oid in self.cursors.values()]

    def interfaces(self) -> list[InterfaceStatus]:
        return [InterfaceStatus(**self.rows[index]) for index in sorted(self.rows)]


def _raise_on_error(error_indication: Any, error_status: Any, error_index: Any) -> None:
    if error_indication:
        name = type(error_indication).__name__
        reason = "timeout" if name == "RequestTimedOut" else "auth" if name in AUTH_ERRORS else "error"
        raise _PollError(reason, str(error_indication))
    if int(error_status):
        raise _PollError("snmp-error", f"{error_status.prettyPrint()} at variable {int(error_index)}")


def _scalars(binds: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for oid, value in binds:
        if oid == SYS_UPTIME + ".0":
            out["sys_uptime_ticks"] = int(value)
        elif oid == SYS_NAME + ".0":
            out["sys_name"] = bytes(value).decode("utf-8", "replace")
        elif oid == IF_NUMBER + ".0":
            out["if_number"] = int(value)
    return out


def _column_value(column: str, value: Any) -> Any:
    if column in ("descr", "name"):
        return bytes(value).decode("utf-8", "replace")
    if column == "oper_status":
        return OPER_STATUS.get(int(value), str(int(value)))
    return int(value)


async def poll_many(targets: list[SnmpTarget], *, timeout: float = 1.0, retries: int = 1,
                    concurrency: int = 100, deadline: float | None = None) -> list[SnmpPollResult]:
    """Poll every target concurrently (at most `concurrency` in flight); results in the targets' order.

    `timeout`/`retries` apply to each SNMP request; `deadline` bounds each target as a whole
    (default: timeout × (retries + 1) × 4).
    """
    poller = SnmpPoller(timeout=timeout, retries=retries, concurrency=concurrency, deadline=deadline)
    try:
        return await poller.poll(targets)
    finally:
        poller.close()


def poll_many_sync(targets: list[SnmpTarget], **options: Any) -> list[SnmpPollResult]:
    """`poll_many` for synchronous callers (the CLI)."""
    return asyncio.run(poll_many(targets, **options))
