"""The README's platform × feature matrix is generated from the code; this keeps the two in sync."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_matrix_matches_code():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- matrix:start -->\n(.*?)<!-- matrix:end -->", text, re.S)
    assert m, "README lacks the matrix markers"
    generated = subprocess.run(
        [sys.executable, "-m", "provisioner.render.matrix", "--markdown"], capture_output=True, text=True, check=True
    ).stdout
    assert m.group(1).strip() == generated.strip(), "README matrix is stale: run scripts/update-readme-matrix"


def test_readme_opens_with_the_two_commands():
    lines = [ln for ln in README.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("sudo scripts/run demo") and lines[3].startswith("sudo scripts/run test")
