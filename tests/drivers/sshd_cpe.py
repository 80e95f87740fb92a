"""`SshdCpe`: a real OpenSSH server in a network namespace of its own, standing in for a Linux CPE's
management plane while the drivers' transaction logic is tested (the lab's UML CPEs test the daemons).

Real parts: sshd (password and key login, SFTP subsystem), bash, nft in the namespace. Its /etc is an
overlay (host /etc below, a private dir above) in a private mount namespace, so the driver may write any
/etc file without touching the host's. Names start with `hkld`; the /30 is from 203.0.113.0/24.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from provisioner.drivers import Target

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def _run(*argv: str, check: bool = True, input: str | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:5])} failed: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class SshdCpe:
    slot: int
    root: Path

    @property
    def netns(self) -> str:
        return f"hkld-{os.getpid()}-{self.slot}"

    @property
    def host_if(self) -> str:
        return f"hkld{os.getpid() % 100000}h"  # per test process: two runs at once do not collide

    @property
    def peer_if(self) -> str:
        return f"hkld{os.getpid() % 100000}c"

    @property
    def addr(self) -> str:
        return f"203.0.113.{192 + 4 * self.slot + 2}"

    @property
    def host_addr(self) -> str:
        return f"203.0.113.{192 + 4 * self.slot + 1}"

    @property
    def upper(self) -> Path:
        return self.root / "etc-upper"

    def target(self, **kw) -> Target:
        base = {"host": self.addr, "platform": "linux", "username": "root",
                "key_file": str(self.root / "client"), "name": f"hkld-cpe{self.slot}"}
        return Target(**{**base, **kw})

    def up(self) -> SshdCpe:
        self.down()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("etc-upper", "etc-work"):
            (self.root / sub).mkdir(exist_ok=True)
        for key in ("hostkey", "client"):
            if not (self.root / key).exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hkld", "-f", str(self.root / key))
        shutil.copy(self.root / "client.pub", self.root / "authorized_keys")
        (self.root / "sshd_config").write_text(
            f"ListenAddress {self.addr}\nHostKey {self.root / 'hostkey'}\nPidFile {self.root / 'sshd.pid'}\n"
            "UsePAM no\nPermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            f"PubkeyAuthentication yes\nAuthorizedKeysFile {self.root / 'authorized_keys'}\nStrictModes no\n"
            "UseDNS no\nPrintMotd no\nPrintLastLog no\nMaxStartups 50:30:100\n"
            f"Subsystem sftp {SFTP_SERVER}\n"
        )
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
        _run("ip", "link", "set", self.peer_if, "netns", self.netns)
        _run("ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
        _run("ip", "link", "set", self.host_if, "up")
        _run("ip", "-n", self.netns, "addr", "add", f"{self.addr}/30", "dev", self.peer_if)
        _run("ip", "-n", self.netns, "link", "set", self.peer_if, "up")
        _run("ip", "-n", self.netns, "link", "set", "lo", "up")
        Path("/run/sshd").mkdir(exist_ok=True)
        script = (
            f"mount -t overlay hkld -o lowerdir=/etc,upperdir={self.upper},workdir={self.root / 'etc-work'} /etc"
            f" && hostname hkld-cpe{self.slot} && exec {SSHD} -D -e -f {self.root / 'sshd_config'}"
        )
        with open(self.root / "sshd.log", "w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--uts", "--propagation", "private",
                 "sh", "-c", script],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while "Server listening" not in (self.root / "sshd.log").read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")
            time.sleep(0.05)
        return self

    def set_password(self, password: str) -> None:
        """root's password inside the CPE (its /etc/shadow is the overlay's)."""
        self.ssh(f"echo 'root:{password}' | chpasswd")

    def ssh(self, command: str) -> str:
        """A command on the CPE over a real SSH session of its own (not the driver's)."""
        return _run("ssh", "-i", str(self.root / "client"), "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
                    f"root@{self.addr}", command)

    def _layers(self, path: str) -> tuple[Path, Path]:
        assert path.startswith("/etc/"), "only the CPE's /etc is private to it"
        return self.upper / path.removeprefix("/etc/"), Path(path)

    def exists(self, path: str) -> bool:
        upper, lower = self._layers(path)
        return upper.exists() or (not _whiteout(upper) and lower.exists())

    def file(self, path: str) -> bytes | None:
        """A file as the CPE sees it (read from the overlay, on the host side)."""
        upper, lower = self._layers(path)
        if upper.exists():
            return upper.read_bytes()
        if _whiteout(upper):
            return None
        return lower.read_bytes() if lower.exists() else None

    def cut_sessions(self, match: str = "sshd: root@pts") -> int:
        """Kill the server side of every interactive SSH session (the driver's): a real cut mid-operation."""
        killed = 0
        for pid in _run("ip", "netns", "pids", self.netns, check=False).split():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if cmd.startswith(match):
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        return killed

    def down(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        for pid in _run("ip", "netns", "pids", self.netns, check=False).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        _run("ip", "netns", "delete", self.netns, check=False)
        _run("ip", "link", "delete", self.host_if, check=False)


def _whiteout(path: Path) -> bool:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    import stat

    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
