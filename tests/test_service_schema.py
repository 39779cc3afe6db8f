"""A schemathesis run over the service's OpenAPI schema against the live server: generated and
boundary-value requests, then stateful sequences that follow the schema's links (a write's unit
to its history and its delete, a recall's run to its trace). No answer may be a server error,
and every answer must match the schema: a documented status, content type and body."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.service_server import Service

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,"
CHECKS += "response_schema_conformance"


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    keyed_service: Service, tmp_path: Path
) -> None:
    cli = Path(sys.executable).parent / "schemathesis"
    done = subprocess.run(
        [
            str(cli),
            "run",
            f"{keyed_service.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {keyed_service.keys['dave']}",
            "--checks",
            CHECKS,
            "--max-examples",
            "4",
            "--max-time",
            "100",  # the stateful phase goes on until this budget ends
            "--request-timeout",
            "60",
            "--seed",
            "13",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = done.stdout[done.stdout.find("SUMMARY") :]
    print(summary)  # shown with -s, and kept in the report of a failure
    assert done.returncode == 0, done.stdout[-6000:]
    assert "Tested: 7" in summary
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, f"the {phase} phase did not run to the end"
