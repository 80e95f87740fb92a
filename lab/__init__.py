"""The lab network: real daemons in network namespaces and user-mode-linux guests (see lab/README.md)."""

from lab.lab import BrasInfo, CpeInfo, Lab, LabError, LabNotRunning, NodeStatus, ProbePort

__all__ = ["BrasInfo", "CpeInfo", "Lab", "LabError", "LabNotRunning", "NodeStatus", "ProbePort"]
