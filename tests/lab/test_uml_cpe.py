"""The UML Linux CPE: SSH and SNMP on its management address, its private writable config, stop().

This is the contract lab/CPE.md promises the provisioner's `linux` driver.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import paramiko
import pytest
from netmiko import ConnectHandler

from lab.guest import cpe
from lab.guest.boot import GuestConfigError
from lab.pytest_plugin import require_lab
from lab.uml import UmlError, cpe_service
from tests.lab import uml_net

USER, PASSWORD = "lab", "lab-Pass-5678"
SNMP = {"community": "hkltu-ro", "v3_user": "hkltu", "auth_key": "auth-Key-5678", "priv_key": "priv-Key-5678"}
SYS_NAME = ".1.3.6.1.2.1.1.5.0"
IF_DESCR = ".1.3.6.1.2.1.2.2.1.2"
HOST_FILES = ("/etc/dhcpcd.conf", "/etc/nftables.conf", "/etc/resolv.conf", "/etc/passwd")


@pytest.fixture(scope="module")
def key() -> paramiko.RSAKey:
    return paramiko.RSAKey.generate(2048)


@pytest.fixture(scope="module")
def guest(tmp_path_factory, key):
    require_lab()
    run_dir = tmp_path_factory.mktemp("uml")
    uml_net.build()
    public = f"{key.get_name()} {key.get_base64()} hkltu"
    guest = uml_net.cpe_guest(run_dir, [{"name": USER, "password": PASSWORD, "authorized_key": public}], SNMP)
    try:
        guest.start()
        yield guest
    finally:
        guest.stop()
        uml_net.destroy()
        shutil.rmtree(run_dir, ignore_errors=True)


def _v3(*args: str, **kw) -> subprocess.CompletedProcess:
    return uml_net.snmpget(
        "-v3", "-l", "authPriv", "-u", SNMP["v3_user"], "-a", "SHA", "-A", SNMP["auth_key"],
        "-x", "AES", *args, **kw,
    )  # fmt: skip


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.lab
def test_netmiko_linux_password_login_shows_the_hostname_as_root(guest):
    conn = ConnectHandler(
        device_type="linux",
        host=uml_net.cpe_addr(),
        username=USER,
        password=PASSWORD,
        sock=uml_net.ns_socket(uml_net.NS_MGMT, uml_net.cpe_addr(), 22),
        use_keys=False,
        allow_agent=False,
    )
    try:
        prompt = conn.find_prompt()
        assert uml_net.CPE_HOSTNAME in prompt and prompt.endswith("#")
        assert conn.send_command("id -u").strip() == "0"
        assert conn.send_command("hostname").strip() == uml_net.CPE_HOSTNAME
    finally:
        conn.paramiko_cleanup()  # disconnect() would wait ~10 s on a root login (lab/CPE.md)


@pytest.mark.lab
def test_key_login_works_and_a_wrong_password_does_not(guest, key):
    with uml_net.ssh(USER, key=key) as shell:
        assert shell.run("ip -br link show mgmt0")[1].startswith("mgmt0")
        # Sessions and boot-started daemons keep glibc off AVX-512 (see lab/shim/xstate_shim.c).
        _, out = shell.run("echo $GLIBC_TUNABLES; tr '\\0' '\\n' < /proc/$(cat /run/sshd.pid)/environ")
        assert out.count("glibc.cpu.hwcaps=-AVX512F") == 2, out
    with pytest.raises(paramiko.AuthenticationException), uml_net.ssh(USER, password="not-" + PASSWORD):
        pass


@pytest.mark.lab
def test_snmp_v2c_and_v3_authpriv_answer_from_the_guests_own_mibs(guest):
    v2c = uml_net.snmpget("-v2c", "-c", SNMP["community"], uml_net.cpe_addr(), SYS_NAME)
    assert v2c.returncode == 0 and f'"{uml_net.CPE_HOSTNAME}"' in v2c.stdout, v2c.stderr
    v3 = _v3("-X", SNMP["priv_key"], uml_net.cpe_addr(), SYS_NAME)
    assert v3.returncode == 0 and f'"{uml_net.CPE_HOSTNAME}"' in v3.stdout, v3.stderr
    # IF-MIB is the guest's: its NICs under the names the guest gave them.
    descr = uml_net.snmpget(
        "-v2c", "-c", SNMP["community"], uml_net.cpe_addr(), *(f"{IF_DESCR}.{i}" for i in range(1, 5))
    )
    assert all(f'"{name}"' in descr.stdout for name in ("lo", "wan0", "mgmt0", "lan0")), descr.stdout
    # Wrong credentials get nothing (the agent answered the good ones a moment ago: 1 s is plenty).
    wrong_community = uml_net.snmpget("-v2c", "-c", "wrong", uml_net.cpe_addr(), SYS_NAME, wait=1, retries=0)
    assert wrong_community.returncode != 0
    assert _v3("-X", "wrong-priv-key", uml_net.cpe_addr(), SYS_NAME, wait=1, retries=0).returncode != 0


@pytest.mark.lab
def test_config_paths_are_writable_private_and_read_by_the_real_daemons(guest):
    before = {path: _digest(path) for path in HOST_FILES}
    with uml_net.ssh(USER, password=PASSWORD) as shell:
        # Atomic replacement (write + rename), as editors and config pushers do it.
        code, out = shell.run(
            "printf 'nodev\\nipv6only\\nnoipv6rs\\ninterface wan0\\n' > /etc/dhcpcd.conf.new"
            " && mv /etc/dhcpcd.conf.new /etc/dhcpcd.conf"
            " && echo 'flush ruleset' > /etc/nftables.conf"
            " && printf 'interface=lan0\\nssid=hkltu\\nhw_mode=g\\nchannel=6\\n' > /etc/hostapd/hostapd.conf"
            " && echo 'nameserver 192.0.2.53' > /etc/resolv.conf"
            " && printf 'plugin rp-pppoe.so\\nnic-wan0\\n' > /etc/ppp/peers/isp"
        )
        assert code == 0, out
        # dhcpcd: started and stopped by its standard commands on /etc/dhcpcd.conf.
        code, out = shell.run("dhcpcd -b >/dev/null 2>&1; sleep 1; dhcpcd -U wan0 >/dev/null; dhcpcd -x")
        assert code == 0, out
        assert "dhcpcd-9" in guest.syslog.read_text()
        # nft reads /etc/nftables.conf (the UML kernel has the bridge family only, see lab/CPE.md).
        assert shell.run("nft -f /etc/nftables.conf")[0] == 0
        # hostapd can only check syntax: the guest has no radio.
        code, out = shell.run("timeout 5 hostapd -dd /etc/hostapd/hostapd.conf 2>&1 | grep -c 'Line '")
        assert out.strip() == "0", out
    assert {path: _digest(path) for path in HOST_FILES} == before
    assert (guest.guest_dir / "dhcpcd").is_dir()  # /var/lib/dhcpcd is the guest dir's, on the host


@pytest.mark.lab
def test_the_hosts_private_files_are_empty_in_the_guest(guest):
    private = [
        str(path)
        for path in Path("/etc").rglob("*")
        if path.is_file() and not path.is_symlink() and not path.stat().st_mode & stat.S_IROTH
    ]
    own = {"/etc/shadow", "/etc/ssh/ssh_host_ed25519_key", "/etc/snmp/snmpd.conf"}  # the guest's
    hidden = [path for path in private if path not in own]
    assert hidden  # shadow-, gshadow, other SSH host keys... on any Debian host
    with uml_net.ssh(USER, password=PASSWORD) as shell:
        code, out = shell.run("stat -c %s " + " ".join(shlex.quote(path) for path in hidden))
    assert code == 0 and set(out.split()) == {"0"}, out


@pytest.mark.lab
def test_sshd_can_be_stopped_and_started_by_the_host(guest):
    cpe_service(guest, "sshd", running=False)
    with pytest.raises(OSError):
        uml_net.ns_socket(uml_net.NS_MGMT, uml_net.cpe_addr(), 22, timeout=3).close()
    cpe_service(guest, "sshd", running=True)
    with uml_net.ssh(USER, password=PASSWORD) as shell:
        assert shell.run("true")[0] == 0
    with pytest.raises(UmlError, match="no CPE service"):
        cpe_service(guest, "kea", running=False)


@pytest.mark.lab
def test_stop_leaves_no_process_behind(guest):
    pids = guest.host_pids()
    assert guest.pid in pids and len(pids) > 2  # UML kernel, helpers, one per guest address space
    guest.stop()
    assert not guest.is_running() and guest.pid is None
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    marker = f"uml_dir={guest.uml_dir}".encode()
    assert [pid for pid in alive if marker in Path(f"/proc/{pid}/cmdline").read_bytes()] == []


# ---------------------------------------------------------------- config checks (no guest needed)
def test_cpe_config_errors_name_the_field(tmp_path):
    nics = {"vec0": "wan0", "wan0": "wan0", "vec1": "mgmt0", "mgmt0": "mgmt0", "vec2": "lan0", "lan0": "lan0"}
    base = {
        "nics": {"wan": "wan0", "mgmt": "vec1", "lan": "lan0"},
        "mgmt_addr": "198.51.100.11/24",
        "users": [{"name": "lab", "password": "pw-123456"}],
        "snmp": SNMP,
    }
    with pytest.raises(GuestConfigError, match=r"nics\.lan"):
        cpe.prepare(tmp_path, {**base, "nics": {"wan": "wan0", "mgmt": "mgmt0", "lan": "eth9"}}, nics, "c")
    with pytest.raises(GuestConfigError, match="mgmt_addr"):
        cpe.prepare(tmp_path, {**base, "mgmt_addr": "10.1.1.1/24"}, nics, "c")
    with pytest.raises(GuestConfigError, match=r"snmp\.priv_key") as exc:
        cpe.prepare(tmp_path, {**base, "snmp": {**SNMP, "priv_key": "short"}}, nics, "c")
    assert "short" not in str(exc.value)
    with pytest.raises(GuestConfigError, match="not a path under /etc/"):
        cpe.prepare(tmp_path, {**base, "files": {"/usr/bin/x": "y"}}, nics, "c")
    files = {"/etc/ppp/peers/isp": "nic-wan0\n", "/etc/ppp/chap-secrets": {"content": "x\n", "mode": 0o600}}
    spec = cpe.prepare(tmp_path, {**base, "files": files}, nics, "c")
    assert ("mgmt0", "198.51.100.11/24") in spec.addrs
    assert (tmp_path / "etc/ppp/peers/isp").read_text() == "nic-wan0\n"
    assert (tmp_path / "etc/ppp/chap-secrets").stat().st_mode & 0o777 == 0o600
    shadow = (tmp_path / "etc/shadow").read_text()
    assert "pw-123456" not in shadow and "lab:$6$" in shadow
    assert "lab:x:0:0:" in (tmp_path / "etc/passwd").read_text()
