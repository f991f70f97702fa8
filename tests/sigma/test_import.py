"""`ctrules import sigma`: the SigmaHQ corpus, per-rule reasons, bad files, the command line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.cli import main
from ctrules.formatter import format_text
from ctrules.parser import parse
from ctrules.ruleset import RuleSet, default_rule_files
from ctrules.sigma.importer import Imported, import_paths

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CORPUS = ROOT / ".." / "shared" / "corpus" / "sigma"
DOCS = ROOT / "docs" / "sigma.md"


def _assert_good_ctr(item: Imported) -> None:
    """Canonical, checks without errors, and every generated example passes."""
    assert item.text is not None and item.name is not None
    assert format_text(item.text) == item.text
    _, findings = check_sources([(f"{item.name}.ctr", item.text)])
    assert [d for d in findings if d.is_error] == []
    rule_file = parse(item.text, f"{item.name}.ctr").file
    results = RuleSet([rule_file]).run_examples()
    assert {r.expected_match for r in results} == {True, False}
    assert all(r.passed for r in results), [r for r in results if not r.passed]


# ---- the SigmaHQ corpus ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_report():  # type: ignore[no-untyped-def]
    if not CORPUS.is_dir():  # pragma: no cover - the corpus is part of the workspace
        pytest.fail(f"the SigmaHQ corpus is missing at {CORPUS}")
    return import_paths([CORPUS / "rules", CORPUS / "rules-placeholder"])


def test_corpus_translates_at_least_90_percent(corpus_report) -> None:  # type: ignore[no-untyped-def]
    files = sorted((CORPUS / "rules").rglob("*.yml")) + sorted(
        (CORPUS / "rules-placeholder").rglob("*.yml"))
    assert len(corpus_report.results) == len(files) == 58
    translated = len(corpus_report.translated)
    assert translated / len(files) >= 0.90, [
        (r.source, r.reason) for r in corpus_report.untranslated]


def test_every_translated_corpus_rule_is_good(corpus_report) -> None:  # type: ignore[no-untyped-def]
    for item in corpus_report.translated:
        _assert_good_ctr(item)


def test_corpus_examples_agree_with_the_sigma_detection(corpus_report) -> None:  # type: ignore[no-untyped-def]
    """The generated examples are confirmed by ctrules' compiler; here the independent Sigma
    evaluation (tests/sigma/oracle.py) confirms their expected verdicts too."""
    from sigma.collection import SigmaCollection

    from . import oracle

    checked = 0
    for item in corpus_report.translated:
        (rule,) = SigmaCollection.from_yaml(Path(item.source).read_text("utf-8")).rules
        (decl,) = parse(item.text or "").file.decls
        assert isinstance(decl, n.RuleDecl)
        for example in decl.examples:
            assert oracle.matches(rule, example.event) == example.expect_match, (
                item.name, example.name)
            checked += 1
    assert checked >= 2 * len(corpus_report.translated)


def test_corpus_output_is_one_rule_set(corpus_report) -> None:  # type: ignore[no-untyped-def]
    """Names are unique, so the whole import loads as one rule set (what -o DIR produces)."""
    files = [parse(r.text or "", f"{r.name}.ctr").file for r in corpus_report.translated]
    names = [d.name for f in files for d in f.decls if isinstance(d, n.RuleDecl)]
    assert len(names) == len(set(names)) == len(corpus_report.translated)
    assert len(RuleSet(files).rules) == len(names)


def test_corpus_import_loads_next_to_the_default_pack(corpus_report) -> None:  # type: ignore[no-untyped-def]
    """No name clashes: the imported rules can live in the same rule set as the default pack."""
    sources = [(str(p), p.read_text("utf-8")) for p in default_rule_files()]
    sources += [(f"{r.name}.ctr", r.text or "") for r in corpus_report.translated]
    _, findings = check_sources(sources)
    assert [d for d in findings if d.is_error] == []


def test_untranslated_corpus_rules_are_listed_in_the_docs(corpus_report) -> None:  # type: ignore[no-untyped-def]
    docs = DOCS.read_text("utf-8")
    for item in corpus_report.untranslated:
        assert item.reason
        assert Path(item.source).name in docs, f"{item.source} is not listed in docs/sigma.md"


def test_translated_rules_keep_the_sigma_metadata(corpus_report) -> None:  # type: ignore[no-untyped-def]
    (item,) = [r for r in corpus_report.translated if r.name == "aws_cloudtrail_imds_malicious_usage"]
    text = item.text or ""
    assert "# author: jamesc-grafana" in text
    assert "# id: 352a918a-34d8-4882-8470-44830c507aa3" in text
    assert "#   - https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-identity-roles.html" in text
    (decl,) = parse(text).file.decls
    assert isinstance(decl, n.RuleDecl)
    assert decl.severity == "high"
    assert "attack.t1078.002" in decl.tags
    assert decl.summary is not None and "(Sigma rule by jamesc-grafana)" in decl.summary.value
    assert decl.description is not None and decl.description.value.startswith("Detects when")


# ---- constructs -----------------------------------------------------------------------------


def _one(path: Path) -> Imported:
    (item,) = import_paths([path]).results
    return item


@pytest.mark.parametrize(("name", "expected"), [
    ("equality_case", 'eventName in ["GetCallerIdentity", "GetSessionToken"]'),
    ("equality_case", 'lower(userAgent) == "trufflehog"'),
    ("null_empty", "errorCode == null"),
    ("null_empty", 'requestParameters.bucketName != ""'),
    ("typed_values", 'requestParameters.enable == false or lower(requestParameters.enable) == "false"'),
    ("typed_values", 'requestParameters.port in [443, "443"]'),
    ("string_modifiers", 'lower(userAgent) contains "aws" and lower(userAgent) contains "cli"'),
    ("string_modifiers", 'lower(userIdentity.arn) startswith ["arn:aws:iam::", "arn:aws:sts::"]'),
    ("wildcards", 'lower(userAgent) glob "boto3/*python/3.?*"'),
    ("wildcards", 'lower(requestParameters.key) contains "secret*key"'),
    ("wildcards", 'errorMessage glob "*"'),
    ("wildcards", 'requestParameters.prefix matches "(?is)\\\\A(?:Logs\\\\*.\\\\/.*)\\\\z"'),
    ("regex", 'userIdentity.arn matches "^arn:aws:sts::[0-9]{3}:assumed-role/"'),
    ("regex", 'userAgent matches "(?i)python-requests/2\\\\.[0-9]+"'),
    ("cidr", 'sourceIPAddress in cidr("10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32")'),
    ("exists", "errorCode exists and not userIdentity.invokedBy exists"),
    ("of_patterns", "not (lower(userIdentity.type) == \"awsservice\""),
    ("cased_compare_windash", 'sourceIPAddress == "AWS Internal"'),
    ("cased_compare_windash", "requestParameters.maxResults >= 100"),
    ("fieldref", "userIdentity.userName == requestParameters.userName"),
])
def test_construct_translation(name: str, expected: str) -> None:
    item = _one(HERE / "constructs" / f"{name}.yml")
    _assert_good_ctr(item)
    assert " ".join(expected.split()) in " ".join((item.text or "").split())


@pytest.mark.parametrize(("name", "reason"), [
    ("unsupported_keywords", "keyword detection 'mimikatz' searches the whole serialized event"),
    ("unsupported_regex", "detection (re): Regular expression '^(?!aws-cli).*python' is invalid"),
    ("unsupported_object", "detection field 'requestParameters' is a JSON object"),
])
def test_unsupported_construct_reason(name: str, reason: str) -> None:
    item = _one(HERE / "constructs" / f"{name}.yml")
    assert item.text is None
    assert reason in (item.reason or "")


def test_placeholder_rule_is_reported() -> None:
    item = _one(HERE / "sigmahq" / "aws_cloudtrail_console_login_success_from_susp_locations.yml")
    assert item.text is None
    assert "placeholder %Legitimate_Countries% in field 'src_country'" in (item.reason or "")


# ---- bad files ------------------------------------------------------------------------------


def test_bad_files_name_the_file_and_field_and_the_rest_imports() -> None:
    report = import_paths([HERE / "errors"])
    by_file = {Path(r.source).name: r for r in report.results}
    assert set(by_file) == {"bad_level.yml", "bad_modifier.yml", "good.yml", "no_detection.yml",
                            "not_a_mapping.yml", "not_yaml.yml", "windows.yml"}
    assert by_file["good.yml"].translated
    _assert_good_ctr(by_file["good.yml"])
    expected = {
        "bad_level.yml": "level: 'apocalyptic' is not a valid Sigma rule level",
        "bad_modifier.yml": "detection (modifier): Unknown modifier 'sometimes'",
        "no_detection.yml": "detection: Sigma rule must have a detection",
        "not_yaml.yml": "not a readable YAML file: while parsing a flow sequence",
        "not_a_mapping.yml": "not a Sigma rule (each YAML document must be a mapping",
        "windows.yml": "logsource: the rule is for product: windows, service: security",
    }
    for name, message in expected.items():
        assert by_file[name].text is None
        assert message in (by_file[name].reason or ""), by_file[name].reason


def test_oversized_and_binary_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_text("title: x\n" + "#" * (1 << 20) + "\n")
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"title: \xff\xfe\n")
    report = import_paths([big, binary])
    reasons = {Path(r.source).name: r.reason or "" for r in report.results}
    assert "larger than" in reasons["big.yml"]
    assert "not a readable YAML file" in reasons["binary.yml"]


# ---- command line ---------------------------------------------------------------------------


def test_cli_writes_one_file_per_rule_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["import", "sigma", str(HERE / "constructs" / "cidr.yml"),
               str(HERE / "constructs" / "exists.yml"), "-o", str(out)])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["cidr.ctr", "sigma_exists.ctr"]  # `exists` is a keyword
    assert "imported 2 of 2 Sigma rule(s)" in capsys.readouterr().err
    assert main(["check", str(out)]) == 0
    assert main(["test", str(out)]) == 0
    assert main(["fmt", "--check", str(out)]) == 0


def test_cli_stdout_and_exit_1_when_some_rules_are_not_translated(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["import", "sigma", str(HERE / "errors")])
    captured = capsys.readouterr()
    assert rc == 1
    assert format_text(captured.out) == captured.out
    assert [d.name for d in parse(captured.out).file.decls] == ["good"]
    assert re.search(r"errors/windows\.yml: not imported \(A Windows rule\): logsource: ",
                     captured.err)
    assert "imported 1 of 7 Sigma rule(s)" in captured.err


def test_cli_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "sigma", "no/such/rules"]) == 2
    assert "no such file or directory: no/such/rules" in capsys.readouterr().err


def test_cli_without_pysigma_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in [m for m in sys.modules if m.startswith(("ctrules.sigma.", "sigma."))
                 and m != "ctrules.sigma.cli"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sigma", None)  # what an absent package looks like to import
    assert main(["import", "sigma", str(HERE / "constructs" / "cidr.yml")]) == 2
    assert "pip install 'ctrules[sigma]'" in capsys.readouterr().err


def test_cli_import_without_a_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import"]) == 2
