# CPE role, sourced by init: the management plane (sshd, snmpd on the management address).  pppd,
# dhcpcd, nft and hostapd are the provisioner's to configure and start with their standard commands
# (lab/CPE.md); at poweroff they are stopped here so PPPoE sessions end cleanly (PADT).

wait_pidfile() { # wait_pidfile FILE: these daemons write their pid file once they listen
    local i
    for ((i = 0; i < 200; i++)); do
        [ -s "$1" ] && return 0
        nap 0.05
    done
    echo "hkl-cpe: no $1 after 10 s (see log/syslog)" >&2
    return 1
}

kill_pidfile() {
    local pid
    read -r pid < "$1" 2>/dev/null && kill "$pid" 2>/dev/null
    rm -f "$1"
}

sshd_start() {
    mkdir -p -m 755 /run/sshd
    /usr/sbin/sshd
}
snmpd_start() { MIBS= /usr/sbin/snmpd -C -c /etc/snmp/snmpd.conf -Lsd -p /run/snmpd.pid; }
sshd_up() { sshd_start && wait_pidfile /run/sshd.pid; }
snmpd_up() { snmpd_start && wait_pidfile /run/snmpd.pid; }
# Like `systemctl stop ssh`: the listener goes, open sessions stay.
sshd_down() { kill_pidfile /run/sshd.pid; }
snmpd_down() { kill_pidfile /run/snmpd.pid; }

role_start() {
    sshd_start # both start at once; then wait for each
    snmpd_start
    wait_pidfile /run/sshd.pid || fail "sshd did not start (see log/syslog)"
    wait_pidfile /run/snmpd.pid || fail "snmpd did not start (see log/syslog)"
    service_is sshd up
    service_is snmpd up
}

role_poll() {
    service_poll sshd sshd_up sshd_down
    service_poll snmpd snmpd_up snmpd_down
}

role_stop() {
    local i
    poff -a >/dev/null 2>&1
    dhcpcd -x >/dev/null 2>&1
    for ((i = 0; i < 30; i++)); do
        pgrep -x pppd >/dev/null || break
        nap 0.1
    done
    snmpd_down
    sshd_down
}
