"""Deployment — static checks of the Terraform module against the runtime it deploys.

No cloud account and no network: the module is read with python-hcl2, and what it configures is
compared with what the runtime reads (ctrules.aws.config.ENVIRONMENT, the Slack table, the
handler). A variable nobody uses, an undocumented one, or an environment variable the handler
ignores fails here rather than in someone's AWS account.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ctrules.aws.config import ALIASES, ENVIRONMENT
from ctrules.delivery.factory import SLACK_ENVIRONMENT

from .tf import (
    EXAMPLE_NAMES,
    EXAMPLES,
    MODULE,
    ROOT,
    blocks,
    code_text,
    locals_of,
    parse,
    tf_files,
    typed_blocks,
)

ALL_TF = tf_files(MODULE)
MODULE_TF = tf_files(MODULE, recursive=False)
VARIABLES = {name: body for _, name, body in blocks(MODULE, "variable")}
SLACK_NAMES = {var.name for var in SLACK_ENVIRONMENT}
# Meta-arguments of a `module` block: not inputs of the module.
META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- every file parses ------------------------------------------------------------------------


def test_the_module_and_its_three_examples_exist() -> None:
    names = {p.name for p in MODULE_TF}
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "lambda.tf", "iam.tf"} <= names
    for example in EXAMPLE_NAMES:
        assert (EXAMPLES / example / "main.tf").is_file(), example


@pytest.mark.parametrize("path", ALL_TF, ids=_rel)
def test_every_tf_file_parses(path: Path) -> None:
    parsed = parse(path)
    assert parsed, f"{_rel(path)} parsed to nothing"


# --- variables: declared, described, typed, used --------------------------------------------


def test_variables_are_declared_only_in_variables_tf() -> None:
    places = {_rel(path) for path, _, _ in blocks(MODULE, "variable")}
    assert places == {"deploy/terraform/variables.tf"}


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_every_variable_has_a_description_and_a_type(name: str) -> None:
    body = VARIABLES[name]
    description = body.get("description", "")
    assert isinstance(description, str) and len(description) >= 20, (
        f"variable {name}: write a description a newcomer can act on"
    )
    assert description.rstrip().endswith((".", ")")), f"variable {name}: a full sentence"
    assert "type" in body, f"variable {name}: declare its type"


def test_every_variable_is_used() -> None:
    # Uses outside variables.tf only: a validation block referring to its own variable is not
    # a use.
    code = "\n".join(code_text(p) for p in MODULE_TF if p.name != "variables.tf")
    unused = [name for name in VARIABLES if not re.search(rf"\bvar\.{name}\b", code)]
    assert unused == []


def test_every_var_reference_is_declared() -> None:
    undeclared: set[str] = set()
    for path in MODULE_TF:
        undeclared |= set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", code_text(path))) - set(VARIABLES)
    assert undeclared == set()


def test_every_local_reference_is_defined() -> None:
    defined = set(locals_of(MODULE))
    used: set[str] = set()
    for path in MODULE_TF:
        used |= set(re.findall(r"\blocal\.([A-Za-z0-9_]+)", code_text(path)))
    assert used - defined == set()
    assert defined - used == set(), "locals nobody reads"


def test_every_output_has_a_description() -> None:
    for _, name, body in blocks(MODULE, "output"):
        assert len(body.get("description", "")) >= 10, f"output {name}"


def test_old_module_names_are_mirrored() -> None:
    # The inputs of fivexl/terraform-aws-cloudtrail-to-slack that mean the same thing here keep
    # their names, so a migration is mostly deleting lines (docs/migrating.md).
    mirrored = {
        "function_name",
        "cloudtrail_logs_s3_bucket_name",
        "cloudtrail_logs_kms_key_id",
        "s3_notification_filter_prefix",
        "configuration",
        "default_slack_channel_id",
        "use_default_rules",
        "log_level",
        "lambda_memory_size",
        "lambda_timeout_seconds",
        "lambda_logs_retention_in_days",
        "tags",
    }
    assert mirrored <= set(VARIABLES)


def test_secrets_are_passed_by_name_never_by_value() -> None:
    # A webhook URL or token given as a value would sit in the Terraform state and in the
    # function's configuration; the module only takes names the runtime resolves.
    for name in VARIABLES:
        if re.search(r"hook|token|secret", name):
            assert name.endswith(("_param_name", "_kms_key_arns")), name
    for name in ("configuration", "destinations"):
        fields = re.findall(r"(\w+)\s*=", VARIABLES[name]["type"])
        assert "slack_hook_url" not in fields, name
        assert "slack_hook_url_param_name" in fields, name


# --- the examples use the module as documented ---------------------------------------------


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_passes_only_inputs_the_module_declares(example: str) -> None:
    calls = [body for _, _, body in blocks(EXAMPLES / example, "module")]
    assert len(calls) == 1, "each example calls the module once"
    call = calls[0]
    assert call["source"] == "../.."
    given = set(call) - META_ARGUMENTS
    assert given - set(VARIABLES) == set(), "unknown module inputs"
    required = {name for name, body in VARIABLES.items() if "default" not in body}
    assert required - given == set(), "required inputs missing"


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_variables_are_described_and_used(example: str) -> None:
    directory = EXAMPLES / example
    declared = {name: body for _, name, body in blocks(directory, "variable")}
    code = "\n".join(
        code_text(p) for p in tf_files(directory, recursive=False) if p.name != "variables.tf"
    )
    for name, body in declared.items():
        assert len(body.get("description", "")) >= 10, f"{example}: variable {name}"
        assert re.search(rf"\bvar\.{name}\b", code), f"{example}: variable {name} unused"


def test_minimal_example_is_as_short_as_the_old_quick_start() -> None:
    ((_, _, call),) = blocks(EXAMPLES / "minimal", "module")
    assert len(set(call) - {"source"}) <= 4


# --- the environment the module sets is the one the handler reads ----------------------------


def _module_environment() -> dict[str, str]:
    env = locals_of(MODULE)["module_environment"]
    assert isinstance(env, dict) and env
    return env


def test_environment_names_are_read_by_the_runtime() -> None:
    unknown = set(_module_environment()) - set(ENVIRONMENT)
    assert unknown == set(), "the handler does not read these (ctrules/aws/config.py)"


def test_environment_uses_preferred_names_not_aliases() -> None:
    assert set(_module_environment()) & set(ALIASES) == set()


def test_slack_settings_are_names_of_the_slack_table() -> None:
    slack = {name for name in _module_environment() if name.startswith("CTRULES_SLACK_")}
    assert slack, "the module configures Slack"
    assert slack - SLACK_NAMES == set()
    assert "CTRULES_ACCOUNT_NAMES" in SLACK_NAMES


def test_secret_settings_carry_references_not_values() -> None:
    env = _module_environment()
    for name, expression in env.items():
        spec = ENVIRONMENT[name]
        if "secret_ref" in expression or "destination_values" in expression:
            assert spec.secret_ok, f"{name} receives a secret reference but is not secret-capable"


def test_the_function_environment_comes_only_from_that_table() -> None:
    # aws_lambda_function.environment = local.lambda_environment = the table above, minus
    # nulls, plus the caller's validated CTRULES_* extras; nothing else sets a variable.
    ((_, _, _, function),) = [
        r for r in typed_blocks(MODULE, "resource") if r[1] == "aws_lambda_function"
    ]
    assert function["environment"][0]["variables"] == "${local.lambda_environment}"
    built = locals_of(MODULE)["lambda_environment"]
    assert "local.module_environment" in built and "var.extra_environment_variables" in built


def _ctrules_names_in(path: Path) -> set[str]:
    return set(re.findall(r"\bCTRULES_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "path",
    [*ALL_TF, ROOT / "docs" / "deploy.md", ROOT / "docs" / "migrating.md"],
    ids=_rel,
)
def test_every_ctrules_variable_mentioned_exists(path: Path) -> None:
    # Docs and examples too: a misspelt name in `extra_environment_variables` would be ignored
    # by the runtime without a word.
    assert _ctrules_names_in(path) - set(ENVIRONMENT) == set()


def test_handler_default_is_the_real_entry_point() -> None:
    dotted = VARIABLES["lambda_handler"]["default"]
    module_name, _, attribute = dotted.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    assert callable(handler)


def test_log_levels_accepted_by_the_module_are_accepted_by_the_runtime() -> None:
    from ctrules.aws.config import Config

    condition = VARIABLES["log_level"]["validation"][0]["condition"]
    levels = re.findall(r'\\"([A-Z]+)\\"|"([A-Z]+)"', condition)
    levels_flat = {a or b for a, b in levels}
    assert levels_flat == {"DEBUG", "INFO", "WARNING", "ERROR"}
    for level in levels_flat:
        assert Config.from_env({"CTRULES_LOG_LEVEL": level}).log_level == level


def test_secret_reference_format_is_the_runtimes() -> None:
    from ctrules.aws.secrets import is_secret_ref

    secret_ref = locals_of(MODULE)["secret_ref"]
    assert '"ssm:${n}"' in secret_ref or "ssm:${n}" in secret_ref
    assert is_secret_ref("ssm:/ctrules/slack/hook")
    assert is_secret_ref("arn:aws:secretsmanager:eu-west-1:111111111111:secret:hook-AbCdEf")
    assert is_secret_ref("arn:aws:ssm:eu-west-1:111111111111:parameter/ctrules/hook")


# --- rules packaging -------------------------------------------------------------------------


def test_bundled_pack_location_is_the_repository_rules_directory() -> None:
    pack = locals_of(MODULE)["default_pack_dir"]
    assert pack == "${path.module}/../../rules"
    assert (MODULE / "../../rules").resolve() == (ROOT / "rules").resolve()


def _generated_routes(configuration: list[dict[str, Any]]) -> str:
    """Renders local.routes_ctr the way Terraform's format() does, for the test's input."""
    expression = locals_of(MODULE)["routes_ctr"]
    template_match = re.search(r'format\(\s*"((?:[^"\\]|\\.)*)"', expression)
    assert template_match, "routes_ctr is built with format()"
    template = json.loads(f'"{template_match.group(1)}"')
    assert template.count("%d") == 1 and template.count("%s") == 2
    header = "# Generated by the ctrules Terraform module"
    assert header in expression
    routes = [
        template % (i + 1, ", ".join(json.dumps(a) for a in c["accounts"]), json.dumps(c["name"]))
        for i, c in enumerate(configuration)
    ]
    return "\n".join([header, *routes])


def test_configuration_routes_are_valid_rules_that_route_by_account(tmp_path: Path) -> None:
    import ctrules

    configuration = [
        {"name": "prod", "accounts": ["111111111111", "222222222222"]},
        {"name": "dev", "accounts": ["333333333333"]},
    ]
    (tmp_path / "terraform-configuration-routes.ctr").write_text(_generated_routes(configuration))
    (tmp_path / "rule.ctr").write_text(
        "rule root_activity {\n"
        "    severity high\n"
        '    when userIdentity.type == "Root"\n'
        '    example "root" match {"userIdentity": {"type": "Root"}}\n'
        '    example "user" no match {"userIdentity": {"type": "IAMUser"}}\n'
        "}\n"
    )
    rs = ctrules.load_rules(tmp_path)

    def routed(account: str) -> tuple[str, ...]:
        event = {
            "userIdentity": {"type": "Root"},
            "recipientAccountId": account,
            "eventID": "e1",
            "eventName": "ConsoleLogin",
        }
        (alert,) = rs.evaluate(event)
        return tuple(rs.destinations(alert))

    assert routed("222222222222") == ("prod",)
    assert routed("333333333333") == ("dev",)
    assert routed("444444444444") == ("default",)


def test_example_rule_directories_pass_check_and_test() -> None:
    import ctrules

    for example in ("organization-trail", "eventbridge-realtime"):
        rules = EXAMPLES / example / "rules"
        diagnostics = ctrules.check(rules)
        assert [d for d in diagnostics if d.is_error] == [], example
        ctrules.load_rules(rules)


def _build_rules_layer(manifest: dict[str, Any], output: Path) -> subprocess.CompletedProcess[str]:
    # As rules.tf's local-exec runs it: the script by path, the manifest as one argument.
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_rules_layer.py"), "--manifest",
         json.dumps(manifest), "-o", str(output)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_rules_layer_builder_lays_out_what_the_runtime_loads(tmp_path: Path) -> None:
    # The layout rules.tf gives the builder (bundled pack under default/, rules_dir under
    # custom/, generated routes at the top; tests/deploy/test_terraform_rules_layer.py checks the
    # manifest Terraform really writes), loaded the way the runtime loads
    # CTRULES_RULES=/opt/ctrules-rules.
    import zipfile

    import ctrules
    from ctrules.ruleset import default_rule_files

    root = locals_of(MODULE)["rules_layer_root"]
    assert "/opt/${local.rules_layer_root}" in locals_of(MODULE)["rules_location"]
    assert 'fileset(local.default_pack_dir, "*.ctr")' in locals_of(MODULE)["default_pack_files"]
    pack = default_rule_files()
    assert {p.parent for p in pack} == {ROOT / "rules"}
    custom = EXAMPLES / "organization-trail" / "rules"

    def entry(path: Path) -> dict[str, str]:
        return {"source": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

    files = {f"{root}/default/{p.name}": entry(p) for p in pack}
    files |= {f"{root}/custom/{p.relative_to(custom).as_posix()}": entry(p) for p in custom.rglob("*.ctr")}
    routes = _generated_routes([{"name": "prod", "accounts": ["111111111111"]}])
    manifest = {"files": files, "contents": {f"{root}/terraform-configuration-routes.ctr": routes}}

    first, second = tmp_path / "a" / "layer.zip", tmp_path / "b" / "layer.zip"
    for output in (first, second):
        done = _build_rules_layer(manifest, output)
        assert done.returncode == 0, done.stderr
    # Reproducible: the same inputs give the same bytes.
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        assert sorted(zf.namelist()) == sorted([*files, *manifest["contents"]])
        zf.extractall(tmp_path / "opt")
    rs = ctrules.load_rules(tmp_path / "opt" / root)
    assert rs.rule("org_leave_organization").name == "org_leave_organization"
    assert rs.rule("root_activity").name == "root_activity"


def test_rules_layer_builder_refuses_a_file_changed_since_plan(tmp_path: Path) -> None:
    rule = tmp_path / "mine.ctr"
    rule.write_text("rule a {\n    when true\n}\n")
    planned = hashlib.sha256(rule.read_bytes()).hexdigest()
    rule.write_text("rule b {\n    when true\n}\n")
    output = tmp_path / "layer.zip"
    manifest = {"files": {"r/custom/mine.ctr": {"source": str(rule), "sha256": planned}}}
    done = _build_rules_layer(manifest, output)
    assert done.returncode == 1
    assert "changed since terraform plan" in done.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == [rule]
    escape = {"contents": {"../outside.ctr": "rule c {\n    when true\n}\n"}}
    done = _build_rules_layer(escape, output)
    assert done.returncode == 1 and "leaves the layer" in done.stderr


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_zip_path_is_where_make_lambda_zip_writes(example: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^LAMBDA_ZIP \?= (\S+)$", makefile, re.M)
    assert match, "the Makefile names the zip it builds"
    declared = {name: body for _, name, body in blocks(EXAMPLES / example, "variable")}
    default = declared["lambda_zip_path"]["default"]
    assert (EXAMPLES / example / default).resolve() == (ROOT / match.group(1)).resolve()
