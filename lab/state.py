"""The lab's state file: what one run created, its secrets (mode 0600) and its active faults.

The file is written as soon as `up` starts and after every step, so an aborted run can be cleaned by the next.
Secrets are kept as plain strings here (the file is root-only); the public models wrap them in SecretStr.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, Field

RUN_DIR_ENV = "HIKARI_LAB_DIR"
DEFAULT_RUN_DIR = Path("/run/hikari-lab")
STATE_FILE = "state.json"
MARKER_FILE = ".hikari-lab"  # proves a directory is the lab's before anything in it is removed


def run_dir() -> Path:
    return Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)


class ProcRecord(BaseModel):
    """A process the lab started; (pid, starttime) identifies it even after the pid is reused."""

    name: str
    pid: int
    starttime: int
    exe: str  # basename of argv[0] as the kernel reports it in /proc/<pid>/stat
    netns: str | None = None


class Account(BaseModel):
    user: str
    password: str
    enabled: bool = True
    max_sessions: int
    ip: str | None = None


class CpeSecrets(BaseModel):
    index: int
    profile: str
    ssh_password: str
    snmp_community: str
    snmp_v3_user: str
    snmp_auth_key: str
    snmp_priv_key: str


class FaultRecord(BaseModel):
    kind: str
    cpe: int | None = None
    # What `clear` needs to undo it (e.g. the original account), never shown by `status`.
    undo: dict = Field(default_factory=dict)


class LabState(BaseModel):
    version: int = 1
    phase: str = "starting"  # starting -> up -> stopping
    started_at: float
    profiles: list[str]
    probe_line: int = 1
    namespaces: list[str] = Field(default_factory=list)
    host_links: list[str] = Field(default_factory=list)
    processes: dict[str, ProcRecord] = Field(default_factory=dict)
    guests_enabled: bool = True
    guests: dict[str, ProcRecord] = Field(default_factory=dict)
    accounts: list[Account] = Field(default_factory=list)
    cpes: list[CpeSecrets] = Field(default_factory=list)
    ssh_user: str = "lab"
    ssh_key_path: str = ""
    faults: list[FaultRecord] = Field(default_factory=list)

    # --- persistence ---
    def save(self, directory: Path) -> None:
        path = directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.model_dump_json(indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path) -> LabState | None:
        path = directory / STATE_FILE
        if not path.exists():
            return None
        return cls.model_validate_json(path.read_text())

    def fault(self, kind: str, cpe: int | None) -> FaultRecord | None:
        return next((f for f in self.faults if f.kind == kind and f.cpe == cpe), None)


class RunDirError(RuntimeError):
    pass


def make_run_dir(directory: Path) -> None:
    """Create (or reuse) the lab's run directory; refuse a directory the lab did not make."""
    marker = directory / MARKER_FILE
    if directory.exists() and not marker.exists() and any(directory.iterdir()):
        raise RunDirError(f"{directory} exists and is not a lab run directory; set {RUN_DIR_ENV} elsewhere")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    marker.touch()


def remove_run_dir(directory: Path) -> bool:
    """Remove the run directory only if the lab made it (marker present); return whether it did.

    The marker goes last, so a removal cut short can always be finished by the next run.
    """
    marker = directory / MARKER_FILE
    if not marker.exists():
        return False
    for _ in range(3):  # a dying guest may still write its console log while the tree is walked
        for entry in directory.iterdir():
            if entry.name == MARKER_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if [e.name for e in directory.iterdir()] == [MARKER_FILE]:
            break
        time.sleep(0.1)
    marker.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        return False
    return True
