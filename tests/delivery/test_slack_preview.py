"""`ctrules slack preview`: the messages a batch would post, shown as Slack shows them — laid
out as text in the terminal, and as an HTML page checked in a real headless Chromium (Debian's
`chromium`) by looking at the screenshot's pixels."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ctrules.cli import main
from ctrules.delivery.preview import SEVERITY_COLOUR, plan, render_html, render_terminal
from ctrules.ruleset import default_rule_files, default_rules_path
from tests.delivery import slack_events as events

SAMPLES = default_rules_path() / "samples"


def _write_events(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"Records": list(records)}))
    return path


def test_terminal_shows_the_message_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack", "preview", "default", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert '"blocks"' not in out and "\x1b[" not in out  # not a terminal here: no colours
    first = out.split("\n\n")[0].splitlines()
    assert first[0] == "→ default (1 alert)"
    assert first[1].startswith("▌ \N{LARGE RED CIRCLE} HIGH · Console login without MFA")
    # Fields two per row, as Slack lays them out.
    assert any(line.startswith("▌ Who") and line.rstrip().endswith("What") for line in first)
    assert "▌   ✓ eventName == \"ConsoleLogin\"" in out  # the Why code block, indented


def test_terminal_colours_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack", "preview", "--color", "always", "default", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[38;5;161m▌" in out  # the high-severity bar
    assert "\x1b[1m" in out  # bold header


def test_json_output_keeps_the_payloads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slack", "preview", "--json", "default", str(SAMPLES)]) == 0
    messages = json.loads(capsys.readouterr().out)
    assert messages and all(m["payload"]["blocks"][0]["type"] == "header" for m in messages)


def test_rule_set_named_any_way_gives_the_same_preview(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for ruleset in (["default"], [str(default_rules_path())]):
        assert main(["slack", "preview", "--json", *ruleset, str(SAMPLES)]) == 0
        outputs.append(capsys.readouterr().out)
    files = default_rule_files()
    assert len(files) > 1
    assert outputs[0] == outputs[1]


def test_digest_split_is_the_sinks(ruleset: Any) -> None:
    # Five AccessDenied groups (one per caller) and a limit of three messages: two messages and
    # a digest holding the rest, as SlackSink.deliver would post.
    records = [events.access_denied(i) for i in range(5)]
    for i, record in enumerate(records):
        record["userIdentity"]["arn"] = f"arn:aws:iam::{events.DEV}:user/caller-{i}"
    alerts = [a for r in records for a in ruleset.evaluate(r)]
    messages, ignored = plan(alerts, ruleset, max_messages=3)
    assert ignored == 0
    assert [m.severity for m in messages] == ["low", "low", None]
    assert messages[-1].payload["text"].endswith("(digest)")
    assert sum(m.alerts for m in messages) == len(alerts)
    text = render_terminal(messages, colour=False, width=100)
    assert text.count("→ default") == 3


# ---- the HTML page in a real browser -------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(page: Path, out: Path, profile: Path) -> Any:
    Image = pytest.importorskip("PIL.Image")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={profile}", "--hide-scrollbars",
            "--window-size=900,1600", f"--screenshot={out}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return Image.open(out).convert("RGB")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def _bars(image: Any, x_range: range) -> list[tuple[str, int, int]]:
    """Vertical runs of a severity colour in the bar column: (severity, top, bottom)."""
    colours = {name: _rgb(c) for name, c in SEVERITY_COLOUR.items()}
    runs: list[tuple[str, int, int]] = []
    for y in range(image.height):
        hit = next(
            (name for name, rgb in colours.items()
             if any(_close(image.getpixel((x, y)), rgb) for x in x_range)),
            None,
        )  # fmt: skip
        if hit and runs and runs[-1][0] == hit and runs[-1][2] == y - 1:
            runs[-1] = (hit, runs[-1][1], y)
        elif hit:
            runs.append((hit, y, y))
    return [r for r in runs if r[2] - r[1] >= 40]


def test_html_page_renders_like_slack_in_chromium(tmp_path: Path, ruleset: Any) -> None:
    root = events.root_login()  # critical, and high for the prod routes
    denied = events.access_denied(1)  # low
    alerts = [a for r in (root, denied) for a in ruleset.evaluate(r)]
    messages, _ = plan(alerts, ruleset)
    page = tmp_path / "preview.html"
    page.write_text(render_html(messages), encoding="utf-8")
    image = _screenshot(page, tmp_path / "shot.png", tmp_path / "profile")

    # Body padding 16 + avatar 36 + gap 8: the bar is the 4 px left border at x = 60..63.
    bars = _bars(image, range(58, 66))
    assert [b[0] for b in bars] == [m.severity for m in messages]
    for severity, top, bottom in bars:
        # The message is drawn: dark text right of the bar, within its height.
        text = sum(
            1
            for y in range(top, bottom, 2)
            for x in range(72, 860, 3)
            if sum(image.getpixel((x, y))) < 200
        )
        assert text > 150, severity
        # And nothing of the bar's colour leaks left of it: the margin is page background.
        assert all(_close(image.getpixel((8, y)), (255, 255, 255)) for y in range(top, bottom))
    # The app avatar (Slack's square) at the top left of the first message.
    assert _close(image.getpixel((30, bars[0][1])), _rgb("#4a154b"), 20)
    # The header's severity dot is drawn in the severity colour, near the bar's top.
    sev, top, _ = bars[0]
    dot = [
        (x, y) for y in range(top, top + 40) for x in range(70, 110)
        if _close(image.getpixel((x, y)), _rgb(SEVERITY_COLOUR[sev]))
    ]  # fmt: skip
    assert len(dot) > 20


def test_html_escapes_event_content(tmp_path: Path, ruleset: Any) -> None:
    record = events.access_denied(1)
    record["userIdentity"]["arn"] = '<script>alert(1)</script>"&'
    messages, _ = plan(ruleset.evaluate(record), ruleset)
    page = render_html(messages)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_preview_writes_the_html_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "preview.html"
    assert main(["slack", "preview", "default", str(SAMPLES), "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('class="message"') >= 3
