"""CLI simulators of the routers Japanese small offices rent (Yamaha RTX, NEC IX): test doubles, named and
documented as such, whose WAN side is real (PPPoE to the lab BRAS, DHCPv6-PD from the lab Kea). See README.md
for the supported command subset per vendor and its sources."""
