# BRAS role, sourced by init.  rp-pppoe's pppoe-server answers discovery on the NICs named in
# HKL_PPPOE_ARGS and starts, per session, a real pppd over a pty with user-mode `pppoe` (Debian's
# pppoe-server has no kernel mode).  /etc/ppp is the host's live copy (lab/guest/bras.py): options,
# secrets, the plugin's account list, ip-up/ip-down that publish sessions in $STATE/sessions.
bras_server_up() {
    pppoe-server "${HKL_PPPOE_ARGS[@]}" -X /run/pppoe-server.pid
}

bras_server_down() {
    local pid i
    # Sessions first, while their pppoe children still carry them: each pppd ends its session with
    # LCP Terminate-Request, then its pppoe sends PADT.  pppoe-server's exit would kill those children.
    pkill -TERM -x pppd
    for ((i = 0; i < 80; i++)); do # pppd gives up on a silent peer after 2 x 3 s
        pgrep -x pppd > /dev/null || break
        nap 0.1
    done
    pkill -KILL -x pppd
    read -r pid < /run/pppoe-server.pid && kill "$pid" 2> /dev/null
    rm -f /run/pppoe-server.pid "$STATE"/sessions/*.json # a killed pppd ran no ip-down
}

role_start() {
    mkdir -p "$STATE/sessions"
    bras_server_up
    service_is server up
}

role_poll() { service_poll server bras_server_up bras_server_down; }

role_stop() { [ "${SERVICE[server]}" = down ] || bras_server_down; }
