"""The SSH front of a simulated router (a test double): paramiko's server side, one process per simulated
router, run inside the router's namespace:

    ip netns exec hkl-sim1 python -m lab.sim.ssh_server --config <run dir>/sim/sim1.json

Password login as the configured user, then a console with the line discipline the real routers have: typed
characters echoed, Enter answered with CR LF, secrets (the Yamaha administrator password) not echoed, and a
Y/N question answered by one key. SIGTERM tears the WAN down (LCP Terminate + PADT, DHCPv6 Release) and exits.
The configuration file holds secrets: mode 0600, never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import paramiko

from lab.sim.console import CliSession, InputMode, RouterSimulator

log = logging.getLogger("lab.sim.ssh")
AUTH_TIMEOUT = 20.0


def build_router(conf: dict[str, Any]) -> RouterSimulator:
    """The simulator a configuration file names (vendor yamaha-rtx or nec-ix)."""
    vendor = conf["vendor"]
    if vendor == "yamaha-rtx":
        from lab.sim.yamaha import YamahaConfig, YamahaRtxSimulator

        return YamahaRtxSimulator(YamahaConfig(
            model=conf["model"], wan_iface=conf["wan_iface"], login_user=conf["login_user"],
            login_password=conf["login_password"], admin_password=conf["admin_password"]))
    if vendor == "nec-ix":
        from lab.sim.nec_ix import NecIxConfig, NecIxSimulator

        return NecIxSimulator(NecIxConfig(
            model=conf["model"], wan_iface=conf["wan_iface"], login_user=conf["login_user"],
            login_password=conf["login_password"]))
    raise ValueError(f"unknown simulator vendor {vendor!r} (yamaha-rtx or nec-ix)")


class _Auth(paramiko.ServerInterface):
    def __init__(self, router: RouterSimulator) -> None:
        self.router = router
        self.user: str | None = None
        self.shell = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        if self.router.authenticate(username, password):
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        log.info("password login refused for %r", username)
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth, pixelheight, modes) -> bool:
        return True

    def check_channel_shell_request(self, channel) -> bool:
        self.shell.set()
        return True


class Console:
    """The line discipline between one SSH channel and one CLI session."""

    def __init__(self, chan: paramiko.Channel, session: CliSession) -> None:
        self.chan = chan
        self.session = session
        self.buf = ""
        self.after_cr = False

    def write(self, text: str) -> None:
        self.chan.sendall(text.replace("\n", "\r\n").encode(self.session.encoding, errors="replace"))

    def reply(self, out: str) -> None:
        self.write((out + "\n" if out else "") + ("" if self.session.closed else self.session.prompt()))

    def run(self) -> None:
        self.write(self.session.banner() + self.session.prompt())
        while not self.session.closed:
            data = self.chan.recv(4096)
            if not data:
                break
            for ch in data.decode("utf-8", errors="replace"):
                self.feed(ch)
                if self.session.closed:
                    break

    def feed(self, ch: str) -> None:
        s = self.session
        if s.input_mode is InputMode.KEY:
            if ch not in "\r\n":
                out = s.handle_key(ch)
                if s.input_mode is not InputMode.KEY:
                    self.reply(out)
            return
        if ch in "\r\n":
            if ch == "\n" and self.after_cr:  # CR LF counts once
                self.after_cr = False
                return
            self.after_cr = ch == "\r"
            line, self.buf = self.buf, ""
            self.write("\n")
            try:
                out = s.handle_line(line)
            except Exception as exc:  # a simulator bug must show in the session, not hang the client
                log.exception("simulator error")
                out = f"SIMULATOR ERROR: {type(exc).__name__}: {exc}"
            self.reply(out)
            return
        self.after_cr = False
        if ch in "\x08\x7f":
            if self.buf:
                self.buf = self.buf[:-1]
                if s.input_mode is InputMode.LINE:
                    self.write("\b \b")
        elif ch >= " ":
            self.buf += ch
            if s.input_mode is InputMode.LINE:
                self.write(ch)


class SimSshServer:
    def __init__(self, router: RouterSimulator, listen: str, port: int, host_key: paramiko.PKey) -> None:
        self.router = router
        self.host_key = host_key
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen, port))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.stopping = threading.Event()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            threading.Thread(target=self._client, args=(conn, peer), daemon=True).start()
        self.sock.close()

    def _client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        auth = _Auth(self.router)
        try:
            transport.start_server(server=auth)
            chan = transport.accept(AUTH_TIMEOUT)
            if chan is None or not auth.shell.wait(AUTH_TIMEOUT) or auth.user is None:
                return
            log.info("console session for %r from %s", auth.user, peer[0])
            Console(chan, self.router.open_session(auth.user)).run()
        except (EOFError, OSError, paramiko.SSHException) as exc:
            log.info("session from %s ended: %s", peer[0], type(exc).__name__)
        finally:
            transport.close()


def load_host_key(path: Path) -> paramiko.PKey:
    """The simulator's own host key, made once (ECDSA P-256: quick to generate, paramiko signs with it)."""
    if path.exists():
        return paramiko.ECDSAKey.from_private_key_file(str(path))
    key = paramiko.ECDSAKey.generate(bits=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        key.write_private_key(fh)
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SSH server of a simulated router (lab test double)")
    parser.add_argument("--config", required=True, type=Path, help="JSON written by lab.sim.node (mode 0600)")
    args = parser.parse_args(argv)
    conf = json.loads(args.config.read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    router = build_router(conf)
    server = SimSshServer(router, conf["listen"], int(conf.get("port", 22)), load_host_key(Path(conf["host_key"])))
    signal.signal(signal.SIGTERM, lambda *_: server.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: server.stopping.set())
    ready = Path(conf["ready_file"])
    ready.with_suffix(".tmp").write_text(str(os.getpid()))
    ready.with_suffix(".tmp").replace(ready)
    log.info("%s %s listening on %s", conf["vendor"], conf["model"], conf["listen"])
    try:
        server.serve()
    finally:
        router.close()
        log.info("stopped; WAN released")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
