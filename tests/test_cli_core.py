"""The core commands as a technician runs them: exit codes, messages, masking."""

import json

import yaml
from typer.testing import CliRunner

from provisioner.cli import app

from .conftest import EXAMPLES

runner = CliRunner()


def write(tmp_path, data, name="line.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_validate_ok(tmp_path, next_pppoe_record):
    res = runner.invoke(app, ["validate", str(write(tmp_path, next_pppoe_record))])
    assert res.exit_code == 0, res.output
    assert "ok:" in res.output and "pppoe" in res.output


def test_validate_json_lists_every_problem(tmp_path, next_pppoe_record):
    next_pppoe_record["customer_id"] = "X"
    next_pppoe_record["isp"]["pppoe"]["username"] = "nodomain"
    res = runner.invoke(app, ["validate", "--json", str(write(tmp_path, next_pppoe_record))])
    assert res.exit_code == 2
    body = json.loads(res.stdout)
    assert {p["field"] for p in body["problems"]} == {"customer_id", "isp.pppoe.username"}


def test_validate_refusal_from_catalog(tmp_path, next_pppoe_record):
    next_pppoe_record["product"] = "east-family-cross"
    res = runner.invoke(app, ["validate", str(write(tmp_path, next_pppoe_record))])
    assert res.exit_code == 2
    assert "IPoE only" in res.output


def test_validate_json_file(tmp_path, next_pppoe_record):
    path = tmp_path / "line.json"
    path.write_text(json.dumps(next_pppoe_record))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0


def test_missing_file_is_invalid_input(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2


def test_catalog_json_has_every_seed_product():
    res = runner.invoke(app, ["catalog", "--json"])
    assert res.exit_code == 0
    ids = {p["id"] for p in json.loads(res.stdout)["products"]}
    assert {"east-family-gigaline-smart", "west-mansion-hayabusa", "east-family-cross"} <= ids


def test_examples_validate_from_cli():
    for path in EXAMPLES:
        res = runner.invoke(app, ["validate", str(path)])
        assert res.exit_code == 0, (path, res.output)
