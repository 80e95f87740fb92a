"""What runs inside the lab's user-mode-linux guests, and the host-side code that prepares it.

- `init`: PID 1 of every guest (bash); mounts, modules, NICs, syslogd, then the role script.
- `bras.sh` / `bras.py`: the BRAS role (rp-pppoe pppoe-server + pppd sessions) and its host-side files.
- `cpe.sh` / `cpe.py`: the Linux CPE role (sshd, snmpd; pppd, dhcpcd, nft for the provisioner).
- `boot.py`: the boot description the host writes for `init` and the checks on role configs.
- `syslogd.c`, `pppd_bras.c`: small C parts built on the host by `lab.shim`.
"""
