"""The README's platform x feature matrix is the one the code generates."""

from pathlib import Path

from provisioner.render.matrix import markdown

README = Path(__file__).resolve().parents[2] / "provisioner" / "render" / "README.md"


def test_readme_matrix_is_current():
    assert README.read_text(encoding="utf-8").endswith(markdown(limits=True)), (
        "regenerate: python -m provisioner.render.matrix --markdown --limits")
