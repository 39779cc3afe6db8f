"""Several workers over one data folder: ``serve --workers 4`` runs a Chroma server for them, and a
write through one worker is visible to the next recall through any other. The load test runs
16 clients for 30 s against one worker and against four: no errors, no lost writes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.service_load import run_load
from tests.service_server import running_service

pytestmark = pytest.mark.slow


def _word(i: int) -> str:
    return "zq" + "".join(chr(ord("a") + (i * 7 + j * 3) % 26) for j in range(9))


def test_a_write_through_one_worker_is_recalled_through_the_others(tmp_path: Path) -> None:
    with running_service(tmp_path, ["sam"], workers=4) as svc:
        assert (svc.data_dir / "chroma").is_dir()  # the Chroma server keeps its data there
        headers = svc.headers("sam")
        for i in range(6):
            word = _word(i)
            body = {"turns": [{"speaker": "Sam", "text": f"Sam noted the code word {word}."}]}
            with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as first:
                turn_id = first.post("/v1/memories", json=body).json()["turn_ids"][0]
            # fresh connections: the kernel spreads them over the four workers
            for _ in range(3):
                with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as other:
                    found = other.post("/v1/recall", json={"question": f"code word {word}?"})
                provenance = [p for e in found.json()["evidence"] for p in e["provenance"]]
                assert turn_id in provenance, f"write {i} not seen by the next recall"
    chroma = subprocess.run(["pgrep", "-f", f"chroma run --path {svc.data_dir}"], check=False)
    assert chroma.returncode == 1  # stopped with the service


@pytest.mark.load
@pytest.mark.parametrize("workers", [1, 4])
def test_load_16_clients_for_30_seconds(tmp_path: Path, workers: int) -> None:
    users = ["load0", "load1", "load2", "load3"]
    seconds = float(os.environ.get("HYPERMNESIA_LOAD_SECONDS", "30"))
    with running_service(tmp_path, users, workers=workers) as svc:
        report = run_load(svc.url, svc.keys, clients=16, seconds=seconds)
    figures = {"workers": workers, **report.figures(), "load_average": os.getloadavg()}
    print(json.dumps(figures))
    assert report.errors == [], report.errors[:5]
    assert report.written, "no write was acknowledged"
    assert report.lost == [], f"{len(report.lost)} of {len(report.written)} writes lost"
