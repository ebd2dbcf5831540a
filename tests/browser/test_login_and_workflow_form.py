"""Signing in, and creating a workflow through the form (errors shown at the line they name)."""

from __future__ import annotations

from .conftest import PASSWORD, login, shot


def test_anonymous_visitors_are_sent_to_sign_in(page, server):
    page.goto(f"{server.url}/runs/")
    assert page.url.startswith(f"{server.url}/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator("p.error").is_visible()
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/runs/")
    assert page.locator("h1").inner_text().startswith("Runs")


def test_an_invalid_workflow_shows_the_error_at_its_line(page, server):
    login(page, server, "operator")
    page.goto(f"{server.url}/workflows/new/")
    page.fill(
        "#source",
        "name: form_demo\ntasks:\n  extract: {run: 'echo hi'}\n  load: {run: 'echo load', needs: [extrct]}\n",
    )
    page.click("#workflow-form button[type=submit]")
    bad = page.locator("#listing .ln.bad")
    assert bad.count() == 1
    assert bad.get_attribute("data-line") == "4"
    message = page.locator("#listing .msg[data-line='4']").inner_text()
    assert "tasks.load.needs" in message and "unknown task 'extrct'" in message and "did you mean 'extract'" in message
    shot(page, "workflow_form_error")
    # Clicking the error puts the cursor on that line of the text.
    page.click(".spec-errors a[data-line='4']")
    selected = page.evaluate(
        "() => { const s = document.getElementById('source'); return s.value.slice(s.selectionStart, s.selectionEnd); }"
    )
    assert "needs: [extrct]" in selected

    page.fill(
        "#source",
        "name: form_demo\ntasks:\n  extract: {run: 'echo hi'}\n  load: {run: 'echo load', needs: [extract]}\n",
    )
    page.click("#workflow-form button[type=submit]")
    page.wait_for_selector("svg.dag g.node[data-node='load']")
    assert page.locator("h1").inner_text().startswith("form_demo")


def test_a_viewer_cannot_open_the_workflow_form(page, server):
    login(page, server, "viewer")
    response = page.goto(f"{server.url}/workflows/new/")
    assert response.status == 403
