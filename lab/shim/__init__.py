"""Builds the small C helpers of the UML guests with the host's gcc, once per source version.

- `xstate_shim.c`: LD_PRELOAD for the UML kernel process (see the comment in the file: without it UML
  dies at boot on hosts with AVX-512/AMX, "ptrace set fp regs failed, errno = 14").
- `lab/guest/syslogd.c`: the guests' /dev/log listener (pppoe-server logs only to syslog).
- `lab/guest/pppd_bras.c`: the BRAS's pppd plugin (per-account session limit and fixed addresses).

Outputs go to `<run_dir>/bin/<stem>-<hash>[.so]`; the hash covers the source and the compiler flags, so
an edited source is rebuilt and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

SHIM_SOURCE = Path(__file__).with_name("xstate_shim.c")
SYSLOGD_SOURCE = Path(__file__).parent.parent / "guest" / "syslogd.c"
PPPD_PLUGIN_SOURCE = Path(__file__).parent.parent / "guest" / "pppd_bras.c"

_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror")
_lock = threading.Lock()  # guests boot from parallel threads: compile each helper once


class BuildError(RuntimeError):
    """gcc is missing or refused a lab helper."""


def compile_c(
    source: Path, run_dir: Path, *, shared: bool = False, defines: dict[str, str] | None = None
) -> Path:
    """Compile `source` into `<run_dir>/bin`, reusing an earlier build of the same source and flags."""
    flags = [*_CFLAGS, "-shared", "-fPIC"] if shared else list(_CFLAGS)
    flags += [f"-D{key}={value}" for key, value in sorted((defines or {}).items())]
    libs = ["-ldl"] if shared else []
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags + libs).encode()).hexdigest()[:12]
    out = Path(run_dir) / "bin" / f"{source.stem}-{digest}{'.so' if shared else ''}"
    with _lock:
        if not out.exists():
            _gcc(source, out, flags, libs)
    return out


def _gcc(source: Path, out: Path, flags: list[str], libs: list[str]) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildError("gcc not found: install gcc and libc6-dev to build the lab's UML helpers")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")  # other processes may build at the same time
    proc = subprocess.run([gcc, *flags, "-o", str(tmp), str(source), *libs], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"gcc failed on {source.name}:\n{proc.stderr.strip()}")
    tmp.replace(out)  # atomic: parallel builders never see a half-written file


def build_shim(run_dir: Path) -> Path:
    """The ptrace XSTATE shim as a shared object (idempotent, cached by source hash)."""
    return compile_c(SHIM_SOURCE, run_dir, shared=True)


def build_syslogd(run_dir: Path) -> Path:
    """The guests' syslog daemon binary (idempotent, cached by source hash)."""
    return compile_c(SYSLOGD_SOURCE, run_dir)


def build_pppd_plugin(run_dir: Path) -> Path:
    """The BRAS's pppd plugin, built for the version of the host's pppd (pppd checks it at load)."""
    proc = subprocess.run(["pppd", "--version"], capture_output=True, text=True)
    match = re.search(r"pppd version (\S+)", proc.stdout + proc.stderr)
    if match is None:
        raise BuildError("cannot tell the pppd version (`pppd --version`): is the ppp package installed?")
    return compile_c(PPPD_PLUGIN_SOURCE, run_dir, shared=True, defines={"PPPD_VERSION": f'"{match[1]}"'})
