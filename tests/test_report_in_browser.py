"""A person opening compliance.html in a real browser sees the verdict, the failing rules,
and the Chinese quotes as characters, not as boxes.

Uses Debian's headless Chromium and a CJK font (fonts-wqy-microhei), which `.ci/run`
installs. Without Chromium the test is skipped with the reason on a developer's machine
and fails in CI (CI=true), never passes; without a CJK font the glyph check fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from imagecert.contracts import load_catalog
from imagecert.report import build, write_one

DIALECT = "jdcloud-vm"  # its seed is in Chinese: most of its quotes are

# Run in the page: draw each distinct CJK character of the first Chinese quote on a canvas
# in the quote cell's computed font, and compare the pixels with the drawing of U+10FFFD,
# a private-use codepoint that no font has a glyph for (what is drawn is the .notdef box).
# Without a font that covers CJK, every character is that same box.
GLYPH_PROBE = """<script>
(() => {
  const cell = document.querySelector("table.rules td[lang=zh]");
  const style = getComputedStyle(cell);
  const chars = [...new Set([...cell.textContent].filter(c => /[\\u4e00-\\u9fff]/.test(c)))].slice(0, 12);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.font = `32px ${style.fontFamily}`;
  const draw = c => { ctx.clearRect(0, 0, 64, 64); ctx.fillText(c, 8, 44);
                      return ctx.getImageData(0, 0, 64, 64).data.join(","); };
  const box = draw("\\u{10FFFD}");
  const drawn = chars.map(draw);
  const probe = document.createElement("pre");
  probe.id = "glyph-probe";
  probe.textContent = JSON.stringify({
    font: style.fontFamily, chars: chars.join(""), boxes: drawn.filter(d => d === box).length,
    blank: drawn.filter(d => !/[1-9]/.test(d)).length, distinct: new Set(drawn).size});
  document.body.append(probe);
})();
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must open the report in a browser", pytrace=False)
        pytest.skip(message)
    return found


def headless(chromium: str, *args: str) -> str:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.fixture(scope="module")
def failing_report(tmp_path_factory):
    """A real jdcloud-vm report (the whole catalog, its Chinese quotes) with two must rules failed."""
    folder = tmp_path_factory.mktemp("report")
    rules = [e for e in load_catalog(DIALECT).entries if e.testable and e.level == "must"][:2]
    outcomes = [{"nodeid": f"suites/{DIALECT}/test_x.py::test_{i}", "dialect": DIALECT, "constraints": [e.id],
                 "outcome": "failed", "reason": f"expected HTTP 400, got 200 ({e.id})", "duration_s": 0.0,
                 "exchanges": []} for i, e in enumerate(rules)]
    page = write_one(folder, build(DIALECT, outcomes, {"base_url": "http://127.0.0.1:1"})).parent / "compliance.html"
    return page, rules


def test_the_verdict_and_the_failing_rules_are_visible(chromium, failing_report, tmp_path):
    page, rules = failing_report
    dom = headless(chromium, "--dump-dom", page.as_uri())
    assert 'id="verdict">NOT CERTIFIED<' in dom
    failed_line = dom.split('id="failed-rules">', 1)[1].split("</p>", 1)[0]
    for rule in rules:
        assert rule.id in failed_line

    shot = tmp_path / "report.png"
    headless(chromium, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert shot.stat().st_size > 10_000, "the screenshot is blank"


def glyph_probe(chromium: str, page, folder) -> dict:
    probed = folder / "probe.html"
    probed.write_text(page.read_text("utf-8").replace("</body>", GLYPH_PROBE + "</body>"), "utf-8")
    dom = headless(chromium, "--dump-dom", probed.as_uri())
    assert 'id="glyph-probe"' in dom, "the probe script did not run"
    return json.loads(dom.split('id="glyph-probe">', 1)[1].split("</pre>", 1)[0])


def test_a_chinese_quote_renders_with_glyphs_not_boxes(chromium, failing_report, tmp_path):
    page, _ = failing_report
    probe = glyph_probe(chromium, page, tmp_path)
    count = len(probe["chars"])
    assert count >= 5, f"the first Chinese quote has too few CJK characters to tell: {probe}"
    assert probe["blank"] == 0, f"characters drew nothing: {probe}"
    assert probe["boxes"] == 0 and probe["distinct"] == count, (
        f"Chinese characters render as the no-glyph box in the page's font ({probe['font']}): "
        f"no installed font covers CJK (Debian: apt-get install fonts-wqy-microhei, as .ci/run does): {probe}")
