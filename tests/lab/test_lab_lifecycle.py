"""Bring-up, teardown and recovery: after `down` nothing of the lab remains, an aborted run is cleaned."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lab import Lab, LabError
from lab.lab import LAB_NS_PATTERN
from lab.network import host_links, list_netns
from lab.procs import is_ours, starttime, stop
from lab.pytest_plugin import require_lab
from lab.state import ProcRecord, run_dir
from lab.topology import HOST_MGMT_IF, MGMT_NET

pytestmark = pytest.mark.lab


def _lab_processes(lab) -> list[ProcRecord]:
    """Every process running in the lab's namespaces, as records that survive pid reuse."""
    recs = []
    for name in list_netns():
        if LAB_NS_PATTERN.match(name):
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
            recs += [
                ProcRecord(name=name, pid=int(p), starttime=starttime(int(p)) or -1, exe="?")
                for p in out.split()
            ]
    return recs


def _assert_nothing_left(directory: Path, before: list[ProcRecord]) -> None:
    assert [n for n in list_netns() if LAB_NS_PATTERN.match(n)] == []
    assert HOST_MGMT_IF not in host_links()
    routes = subprocess.run(
        ["ip", "-j", "route", "show", "match", str(MGMT_NET)], capture_output=True, text=True
    ).stdout
    assert [r for r in json.loads(routes or "[]") if r.get("dst") == str(MGMT_NET)] == []
    assert [r.pid for r in before if is_ours(r)] == []
    mine = (
        [
            p
            for p in os.listdir("/proc")
            if p.isdigit() and str(directory).encode() in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        if directory.exists()
        else []
    )
    assert mine == []
    assert not directory.exists()


@pytest.fixture
def own_labs(lab_factory):
    """These tests bring labs up and down themselves."""
    with lab_factory.exclusive():
        yield


def test_down_removes_every_namespace_link_process_and_file(own_labs):
    require_lab(guests=True)
    lab = Lab.up(cpes=1, profile="next")  # BRAS and a CPE guest, Kea, radvd, resolver
    procs = _lab_processes(lab)
    assert len(procs) >= 5 and lab.dir.exists()
    lab.down()
    _assert_nothing_left(lab.dir, procs)


def test_an_aborted_run_is_cleaned_by_the_next_up(own_labs):
    require_lab(guests=True)
    first = Lab.up(cpes=1, profile="next")
    procs = _lab_processes(first)
    (first.dir / "state.json").unlink()  # as if `up` had died before writing anything
    second = Lab.up(cpes=1, profile="cross", guests=False)
    assert [r.pid for r in procs if is_ours(r)] == []  # the first run's daemons and guests are gone
    assert second.state.profiles == ["cross"]
    second_procs = _lab_processes(second)
    Lab.teardown()
    _assert_nothing_left(second.dir, second_procs)


def test_a_process_that_is_not_the_labs_is_never_signalled():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        stranger = ProcRecord(name="x", pid=sleeper.pid, starttime=starttime(sleeper.pid) + 1, exe="sleep")
        stop([stranger], timeout=0.2)
        assert sleeper.poll() is None  # same pid, another start time: not ours
        ours = stranger.model_copy(update={"starttime": starttime(sleeper.pid)})
        stop([ours], timeout=2)
        assert sleeper.wait(timeout=2) is not None
    finally:
        sleeper.kill()


def test_a_foreign_run_directory_is_refused_and_left_alone(own_labs, tmp_path):
    require_lab(guests=False)
    keep = tmp_path / "precious.txt"
    keep.write_text("not the lab's")
    with pytest.raises(LabError, match="not a lab run directory"):
        Lab.up(cpes=1, profile="next", guests=False, directory=tmp_path)
    assert keep.read_text() == "not the lab's"


def test_cli_up_status_fault_clear_down(own_labs):
    require_lab(guests=False)
    from provisioner.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["lab", "up", "--profile", "next,cross", "--no-guests"])
    assert result.exit_code == 0, result.output
    lab = Lab.load()
    password = lab.cpe(1).ssh_password.get_secret_value()
    status = runner.invoke(app, ["lab", "status"])
    assert status.exit_code == 0 and "kea" in status.output and password not in status.output
    secret = runner.invoke(app, ["lab", "status", "--show-secrets"], env={"COLUMNS": "400"})
    assert password in secret.output
    assert runner.invoke(app, ["lab", "fault", "kea-down"]).exit_code == 0
    assert "fault: kea-down" in runner.invoke(app, ["lab", "status"], env={"COLUMNS": "400"}).output
    bad = runner.invoke(app, ["lab", "fault", "ra-instead-of-pd", "--cpe", "1"])
    assert bad.exit_code == 2 and "DHCPv6-PD line" in bad.output
    assert runner.invoke(app, ["lab", "fault", "nonsense"]).exit_code == 2
    cleared = runner.invoke(app, ["lab", "clear"])
    assert cleared.exit_code == 0 and "kea-down" in cleared.output
    procs = _lab_processes(lab)
    assert runner.invoke(app, ["lab", "down"]).exit_code == 0
    _assert_nothing_left(run_dir(), procs)
    assert runner.invoke(app, ["lab", "status"]).exit_code == 1  # nothing running
    assert runner.invoke(app, ["lab", "up", "--profile", "nxt"]).exit_code == 2
