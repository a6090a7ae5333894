"""axe-core in a real browser, for the tests only: never served, never in a page's HTML.

axe-core is a pinned npm devDependency (package.json), installed into node_modules by
.ci/install-firebase.sh's ``npm ci``. It is added to a test's browser context as an init script
(Playwright's add_init_script, through the DevTools protocol), which the page's strict CSP does not
govern; an add_script_tag would be an inline <script> that the CSP rightly blocks.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import BrowserContext, Page

from tests.support.tools import missing

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


async def with_axe(context: BrowserContext) -> BrowserContext:
    """``context`` with axe loaded in every page it opens from now on."""
    if not AXE.is_file():
        missing("axe-core is not installed (npm ci --ignore-scripts, as .ci/install-firebase.sh runs)")
    await context.add_init_script(path=str(AXE))
    return context


async def violations(page: Page) -> list[str]:
    """Every axe violation on the page as it is now, any impact, one line per failing element."""
    found = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.flatMap(v => v.nodes.map(
                n => `${v.impact} ${v.id}: ${v.help} at ${n.target.join(' ')}: ${n.failureSummary}`));
        }"""
    )
    return [str(line) for line in found]
