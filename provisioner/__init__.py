"""hikari-provisioner: FLET'S line records to verified CPE configurations."""

__version__ = "0.1.0"
