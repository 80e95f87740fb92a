"""Benchmark the PPPoE probe in the lab, side by side with the tools a technician would otherwise use.

1. Login, PADI → IPCP up: `provisioner probe pppoe` against the CPE's own pppd (`pppd call … updetach`, the
   lab's rp-pppoe.so peer; as is and with `lcp-restart 1`) on the same line and the same BRAS. Both are timed the same way: from a capture on
   the BRAS's NIC (first PADI of the client → both IPCP Configure-Acks seen). Goal: probe ≤ 1.1 × pppd.
2. Discovery verdict ("the BRAS answers"): the probe's PADO time against `pppoe -A` (rp-pppoe's discovery
   scan, which always listens its full timeout). Goal: < 50 ms.

Run as root with the lab up (`provisioner lab up`); without a running lab it brings a one-line lab up and
takes it down afterwards.   python bench/probe.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_VAR = "HKL_BENCH_PASSWORD"


# --- BRAS-side capture (runs inside the BRAS namespace, started by the benchmark) -------------------------

def capture(iface: str) -> None:
    """Print a JSON list of PADI and IPCP Configure-Ack events seen on `iface` until stdin closes."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((iface, 0))
    events = []
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([sock, sys.stdin], [], [])
        if sys.stdin in ready and not sys.stdin.readline():
            break
        if sock in ready:
            frame = sock.recv(2048)
            now = time.monotonic()
            ethertype = struct.unpack_from("!H", frame, 12)[0]
            src = frame[6:12].hex(":")
            if ethertype == 0x8863 and frame[15] == 0x09:
                events.append({"t": now, "src": src, "kind": "padi"})
            elif ethertype == 0x8864 and frame[20:22] == b"\x80\x21" and frame[22] == 2:
                events.append({"t": now, "src": src, "kind": "ipcp-ack"})
    print(json.dumps(events), flush=True)


class BrasCapture:
    def __init__(self, netns: str, iface: str) -> None:
        self.argv = ["ip", "netns", "exec", netns, sys.executable, __file__, "--capture", iface]

    def __enter__(self) -> BrasCapture:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # the last frames
        out, _ = self.proc.communicate("", timeout=30)
        self.events = json.loads(out.strip().splitlines()[-1])

    def login_ms(self, bras_mac: str) -> float | None:
        """First PADI of the client → both directions' IPCP Configure-Ack."""
        padis = [e for e in self.events if e["kind"] == "padi"]
        if not padis:
            return None
        client, t0 = padis[0]["src"], padis[0]["t"]
        acks = [e for e in self.events if e["kind"] == "ipcp-ack" and e["t"] >= t0]
        by_client = next((e["t"] for e in acks if e["src"] == client), None)
        by_bras = next((e["t"] for e in acks if e["src"] == bras_mac), None)
        if by_client is None or by_bras is None:
            return None
        return (max(by_client, by_bras) - t0) * 1000.0


# --- the benchmark -------------------------------------------------------------------------------------

def run_probe(port, *args: str, password: str | None = None) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": tempfile.gettempdir()}
    if password is not None:
        env[PASSWORD_VAR] = password
    argv = ["ip", "netns", "exec", port.netns, sys.executable, "-m", "provisioner.cli", "probe", "pppoe",
            "--iface", port.iface, "--json", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    return json.loads(proc.stdout)


def wait_sessions(lab, user: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while len([s for s in lab.bras.sessions() if s["user"] == user]) != count and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--capture", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        capture(args.capture)
        return

    sys.path.insert(0, str(ROOT))
    from lab import Lab, LabNotRunning
    from lab.pytest_plugin import ppp_dial, ppp_hangup
    from lab.topology import BRAS_IF, BRAS_MAC, BRAS_NS

    try:
        lab, own = Lab.load(), False
    except LabNotRunning:
        lab, own = Lab.up(cpes=1, profile="next"), True
    try:
        line = next(cpe.index for cpe in lab.cpes if cpe.pppoe)
        cpe = lab.cpe(line)
        port = lab.attach_probe(line)
        password = cpe.isp_password.get_secret_value()
        ppp_hangup(lab, line)
        wait_sessions(lab, cpe.isp_user, 0)

        pppd_ms, tuned_ms, probe_ms, probe_own_ms = [], [], [], []
        for _ in range(args.rounds):
            for samples, extra in ((pppd_ms, ""), (tuned_ms, "lcp-restart 1")):
                with BrasCapture(BRAS_NS, BRAS_IF) as cap:
                    rc, output = ppp_dial(lab, line, extra=extra)
                if rc != 0:
                    raise SystemExit(f"pppd did not come up (exit {rc}): {output[-400:]}")
                samples.append(cap.login_ms(BRAS_MAC))
                ppp_hangup(lab, line)
                wait_sessions(lab, cpe.isp_user, 0)

            with BrasCapture(BRAS_NS, BRAS_IF) as cap:
                result = run_probe(port, "--user", cpe.isp_user, "--password-env", PASSWORD_VAR, password=password)
            if not result["ok"]:
                raise SystemExit(f"probe failed: {result['failed_stage']}: {result}")
            probe_ms.append(cap.login_ms(BRAS_MAC))
            probe_own_ms.append(next(s for s in result["stages"] if s["name"] == "ipcp")["evidence"]["since_padi_ms"])
            wait_sessions(lab, cpe.isp_user, 0)

        pado_ms, verdict_ms = [], []
        for _ in range(args.rounds):
            result = run_probe(port)
            discovery = next(s for s in result["stages"] if s["name"] == "discovery")
            pado_ms.append(discovery["evidence"]["pado_ms"])
            verdict_ms.append(discovery["elapsed_ms"])
        pppoe_a_ms = []
        for _ in range(min(args.rounds, 3)):  # 5 s each
            t0 = time.monotonic()
            subprocess.run(["ip", "netns", "exec", port.netns, "pppoe", "-A", "-I", port.iface],
                           capture_output=True, timeout=30)
            pppoe_a_ms.append((time.monotonic() - t0) * 1000.0)
    finally:
        if own:
            lab.down()

    med = statistics.median
    print(f"PPPoE login PADI → IPCP up, line {line} ({cpe.isp_user}), median of {args.rounds}, "
          "timed on the BRAS's NIC:")
    print(f"  baseline pppd (lab peer: rp-pppoe.so, `pppd call hkltest updetach` on the CPE): "
          f"{med(pppd_ms):8.1f} ms  {[round(x) for x in pppd_ms]}")
    print(f"  provisioner probe pppoe --iface {port.iface} --user {cpe.isp_user} --password-env {PASSWORD_VAR}: "
          f"{med(probe_ms):8.1f} ms  {[round(x) for x in probe_ms]} (probe's own clock {med(probe_own_ms):.1f} ms)")
    print(f"  pppd tuned with `lcp-restart 1` (its shortest retransmission): "
          f"{med(tuned_ms):8.1f} ms  {[round(x) for x in tuned_ms]}")
    print(f"  ratio probe / pppd: {med(probe_ms) / med(pppd_ms):.2f}×, probe / tuned pppd: "
          f"{med(probe_ms) / med(tuned_ms):.2f}×  (goal ≤ 1.1×)")
    print("Discovery verdict (the BRAS answers):")
    print(f"  baseline `pppoe -A -I {port.iface}`: {med(pppoe_a_ms):8.1f} ms wall")
    print(f"  provisioner probe pppoe --iface {port.iface}: PADO {med(pado_ms):.1f} ms, "
          f"PADS {med(verdict_ms):.1f} ms  (goal < 50 ms)")
    print(f"  ratio pppoe -A / probe PADO: {med(pppoe_a_ms) / med(pado_ms):.0f}×")


if __name__ == "__main__":
    main()
