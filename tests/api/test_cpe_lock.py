"""One job per CPE at a time, in the order accepted; jobs for different CPEs run side by side."""

from __future__ import annotations

from provisioner import service
from tests.api.conftest import line
from tests.api.helpers import BannerServer, wait_job


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_jobs_for_one_cpe_never_overlap(api, monkeypatch):
    monkeypatch.delattr(service, "provision_line", raising=False)  # end each job right after reach
    same, other1, other2 = BannerServer(delay=0.6), BannerServer(delay=0.6), BannerServer(delay=0.6)
    try:
        ids = [
            api.activate(line("CAF10000001", management_port=same.port)).json()["job"]["id"],
            api.activate(line("CAF10000001", management_port=same.port)).json()["job"]["id"],
            api.activate(line("CAF10000002", management_port=other1.port)).json()["job"]["id"],
            api.activate(line("CAF10000003", management_port=other2.port)).json()["job"]["id"],
        ]
        jobs = [wait_job(api.client, i, api.auth()) for i in ids]
    finally:
        for s in (same, other1, other2):
            s.close()
    assert all(j["stages"][3]["name"] == "reach" and j["stages"][3]["status"] == "succeeded" for j in jobs)
    assert len(same.connections) == 2
    assert not _overlap(*same.connections), "two jobs on one CPE at once"
    # The first accepted ran first.
    assert jobs[0]["finished_at"] <= jobs[1]["started_at"]
    # Different CPEs did run at the same time (so the test above could have failed).
    assert _overlap(other1.connections[0], other2.connections[0])
