"""verify(): how the typed getter results are judged against the intent, and the bounded wait.

`ReplayedStatus` replays typed results in the order a CPE would show them; it stands in for a driver only
here, where the judgement is under test. The getters themselves run against real CPEs in tests/lab/."""

from __future__ import annotations

import ipaddress

from pydantic import SecretStr

from provisioner.drivers.models import Ipv6Prefix, PppoeStatus, TunnelStatus
from provisioner.intent.models import Ipv6, Pppoe, Tunnel
from provisioner.verify import verify
from tests.drivers.conftest import plain_device


class ReplayedStatus:
    """Replays recorded getter results (one step per call); the last one repeats."""

    def __init__(self, pppoe=(), prefixes=(), tunnels=()):
        self.steps = {"pppoe": list(pppoe), "prefixes": list(prefixes), "tunnels": list(tunnels)}
        self.calls = {k: 0 for k in self.steps}

    def _next(self, key):
        self.calls[key] += 1
        steps = self.steps[key]
        return steps.pop(0) if len(steps) > 1 else steps[0]

    def get_pppoe_status(self, session=1):
        return self._next("pppoe")

    def get_ipv6_prefixes(self):
        return self._next("prefixes")

    def get_tunnel_status(self):
        return self._next("tunnels")


PPPOE = (Pppoe(username="u@isp.example", password=SecretStr("pw")),)
UP = PppoeStatus(state="up", interface="ppp0", ipv4=ipaddress.IPv4Address("203.0.113.10"))
PD56 = Ipv6(mode="pd", expected_prefix_length=56, lan_sla_id=1, ngn_dns=(), ngn_domain="x")


def _pd(net, iface="lo", address=None):
    return Ipv6Prefix(interface=iface, prefix=ipaddress.IPv6Network(net), origin="pd",
                      address=ipaddress.IPv6Address(address) if address else None)


def test_pppoe_is_waited_for_until_it_is_up():
    status = ReplayedStatus(pppoe=[PppoeStatus(state="down"), PppoeStatus(state="connecting"), UP])
    result = verify(status, plain_device(pppoe=PPPOE, wan_mode="pppoe"), timeout=5, interval=0.01)
    assert result.ok and status.calls["pppoe"] == 3
    assert "203.0.113.10" in result.checks[0].detail


def test_an_auth_failure_ends_the_wait_at_once():
    status = ReplayedStatus(pppoe=[PppoeStatus(state="connecting", detail="authentication failed")])
    result = verify(status, plain_device(pppoe=PPPOE, wan_mode="pppoe"), timeout=30, interval=0.01)
    assert not result.ok and result.checks[0].reason == "auth-rejected"
    assert result.elapsed_ms < 5000 and status.calls["pppoe"] == 1


def test_a_session_that_never_comes_up_fails_after_the_timeout():
    status = ReplayedStatus(pppoe=[PppoeStatus(state="connecting")])
    result = verify(status, plain_device(pppoe=PPPOE, wan_mode="pppoe"), timeout=0.3, interval=0.05)
    assert not result.ok and result.checks[0].reason == "pppoe-down" and "after 0.3 s" in result.checks[0].detail


def test_pd_needs_the_expected_length_and_the_sla_64_on_the_lan():
    device = plain_device(ipv6=PD56)
    lan_ok = _pd("2001:db8:104:1::/64", "lan0", "2001:db8:104:1::1")
    ok = verify(ReplayedStatus(prefixes=[[], [_pd("2001:db8:104::/56"), lan_ok]]), device, timeout=2, interval=0.01)
    assert ok.ok and "2001:db8:104:1::/64" in ok.checks[0].detail

    wrong_len = verify(ReplayedStatus(prefixes=[[_pd("2001:db8:104::/60")]]), device, timeout=2, interval=0.01)
    assert wrong_len.checks[0].reason == "wrong-pd-length"

    wrong_sla = _pd("2001:db8:104:2::/64", "lan0", "2001:db8:104:2::1")
    bad = verify(ReplayedStatus(prefixes=[[_pd("2001:db8:104::/56"), wrong_sla]]), device, timeout=0.2, interval=0.05)
    assert bad.checks[0].reason == "wrong-lan-prefix"


def test_the_tunnel_of_the_intended_kind_must_be_up():
    device = plain_device(ipv6=PD56, tunnel=Tunnel(kind="ds-lite", vne="transix"))
    prefixes = [_pd("2001:db8:104::/56"), _pd("2001:db8:104:1::/64", "lan0", "2001:db8:104:1::1")]
    down = TunnelStatus(name="dslite0", kind="ds-lite", state="down")
    up = TunnelStatus(name="dslite0", kind="ds-lite", state="up")
    result = verify(ReplayedStatus(prefixes=[prefixes], tunnels=[[down], [up]]), device, timeout=2, interval=0.01)
    assert result.ok and [c.name for c in result.checks] == ["ipv6-pd", "ds-lite"]


class SlowPolls(ReplayedStatus):
    """A CPE whose one state read per poll takes `cost` seconds, as a busy one does; records what each poll
    asked for and when it started."""

    def __init__(self, cost, **steps):
        super().__init__(**steps)
        self.cost, self.polls = cost, []

    def status_poll(self, needs=None):
        import contextlib
        import time

        self.polls.append((time.monotonic(), needs))
        time.sleep(self.cost)
        return contextlib.nullcontext()


def test_polls_ask_only_for_what_is_still_pending_and_back_off_when_the_cpe_is_slow():
    status = SlowPolls(0.1, pppoe=[PppoeStatus(state="connecting")] * 3 + [UP], prefixes=[
        [_pd("2001:db8:100::/56", "wan0"), _pd("2001:db8:100:1::/64", "lan0", "2001:db8:100:1::1")]])
    device = plain_device(pppoe=PPPOE, wan_mode="pppoe", ipv6=PD56)
    result = verify(status, device, timeout=10, interval=0.01)
    assert result.ok, result.reason()
    needs = [n for _, n in status.polls]
    assert needs[0] == {"pppoe", "ipv6"} and needs[1:] == [{"pppoe"}] * 3  # the PD passed on the first poll
    gaps = [b - a for (a, _), (b, _) in zip(status.polls, status.polls[1:], strict=False)]
    assert min(gaps) >= 0.1 + 3 * 0.1 * 0.9  # the read, then a pause of 3x what it cost, not the 10 ms interval
