import copy
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["lab.pytest_plugin"]

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "lines").glob("*.yaml"))


@pytest.fixture
def next_pppoe_record() -> dict:
    """A minimal valid Next PPPoE line on a Linux router, as a plain mapping to mutate in tests."""
    return copy.deepcopy(
        {
            "customer_id": "CAF12345678",
            "region": "east",
            "product": "east-family",
            "isp": {
                "name": "Example ISP",
                "pppoe": {"username": "abc123@isp.example", "password": "s3cret-pw"},
            },
            "equipment": {"router": {"platform": "linux", "model": "linux-cpe"}},
        }
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/<platform>/<scenario>.txt from the current renderers",
    )


def load_example(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
