"""Every page of the built book loads clean: no console error, no uncaught exception, no request that fails."""

import pytest

from tests.test_notebooks_clean import toc_files

PAGES = toc_files() + ["search"]


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_without_errors_or_failed_requests(site, browser, page_name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text} ({m.location['url']})"))
    page.on("pageerror", lambda e: problems.append(f"exception: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.goto(f"{site}/{page_name}.html")
    page.wait_for_load_state("networkidle")
    if page.evaluate("() => !!(window.MathJax && MathJax.startup)"):  # wait for the equations and their fonts
        page.evaluate("() => MathJax.startup.promise")
        page.wait_for_load_state("networkidle")
        assert page.locator("mjx-container").count() > 0, f"{page_name}: MathJax typeset nothing"
    # one search field, in the sidebar: the theme's top bar with a second one is gone
    visible = page.evaluate("() => Array.from(document.querySelectorAll('.search-button__button'))"
                            ".filter(e => e.offsetParent !== null).length")
    assert visible == 1, f"{page_name}: {visible} visible search buttons"
    page.close()
    assert problems == [], f"{page_name}: {problems}"
