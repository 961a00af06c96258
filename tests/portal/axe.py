"""axe-core, the accessibility engine, run in the page a test's Chromium shows.

Two releases of it, each from a PyPI package that ships its axe.min.js (no download at run
time): axe-selenium-python's axe-core 3.1 (the one issue 13 names; it still has the
`radiogroup` rule: radios of one name must be one labelled group) and axe-core-python's
axe-core 4.4 (newer rules and a stricter colour-contrast check). All rules run, best
practices too (`region`: all content inside landmarks), and a page passes with no violation
from either. `audit(driver)` returns the violations as readable lines, so a failing test says
which rule, which element and how to fix it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def _scripts() -> tuple[tuple[str, str], ...]:
    import axe_core_python.base
    import axe_selenium_python.axe

    legacy = Path(axe_selenium_python.axe._DEFAULT_SCRIPT)
    current = Path(axe_core_python.base.AXE_FILE_PATH)
    return (
        ("axe-core 3.1", legacy.read_text(encoding="utf-8")),
        ("axe-core 4.4", current.read_text(encoding="utf-8")),
    )


_RUN = (
    "var done = arguments[arguments.length - 1];"
    "axe.run(document, {resultTypes: ['violations']})"
    ".then(function (r) { done(r.violations); }, function (e) { done([{id: 'axe-error',"
    " impact: 'critical', help: String(e), helpUrl: '', nodes: []}]); });"
)


def violations(driver) -> list[dict]:
    """The violations of each axe-core release on the current page, each tagged with the
    release (`engine`). Each release is injected afresh (the page's own `axe` removed first)."""
    found = []
    for engine, script in _scripts():
        driver.execute_script("delete window.axe;")
        driver.execute_script(script)
        for violation in driver.execute_async_script(_RUN):
            found.append({**violation, "engine": engine})
    return found


def describe(found: list[dict]) -> list[str]:
    """One line per rule and element: what is wrong, where, and the rule's help page."""
    lines = []
    for v in found:
        targets = [" ".join(map(str, n.get("target", []))) for n in v["nodes"]] or ["(page)"]
        first = v["nodes"][0].get("failureSummary", "").replace("\n", " ") if v["nodes"] else ""
        lines.append(
            f"[{v['engine']}] {v['id']} ({v.get('impact')}): {v['help']} at "
            f"{', '.join(targets[:5])}{' …' if len(targets) > 5 else ''} – {first} "
            f"{v.get('helpUrl', '')}"
        )
    return lines


def audit(driver) -> list[str]:
    """Every violation on the page the driver shows, as readable lines ([] when none)."""
    return describe(violations(driver))
