#!/usr/bin/python3
"""Drives vbatch's web dashboard in headless Chromium (Debian's chromium and chromium-driver,
through python3-selenium). Run by Tests/VBatchDaemonTests/DashboardBrowserTests.swift, which
starts vbatchd with a real VM node and the TLS listener on loopback and passes:

  dashboard.py URL USER_TOKEN OPERATOR_TOKEN SUBMIT_COMMAND_JSON SCREENSHOT_DIR NODE VO

SUBMIT_COMMAND_JSON is the argv (JSON list) that submits one job as the user and prints its id.
Exits 0 when every check holds; prints one line per check, and the reason of the first failure.
"""
import json
import ssl
import subprocess
import sys
import time
import urllib.request

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from chromium import browser, check, console_errors, run

URL, USER_TOKEN, OPERATOR_TOKEN, SUBMIT, SHOTS, NODE, VO = sys.argv[1:8]
SUBMIT = json.loads(SUBMIT)


def api(path, token, method="GET", body=None):
    """The JSON API with a bearer token (the test's own view, not the browser's)."""
    context = ssl._create_unverified_context()  # the page under test is what matters here
    request = urllib.request.Request(URL + path, method=method, headers={"Authorization": "Bearer " + token})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)


def sign_in(driver, token):
    driver.get(URL + "/ui/login")
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.rstrip("/").endswith("/ui"))


def visit(driver, path, shot=None):
    driver.get(URL + path)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(0.5)
    if shot:
        driver.save_screenshot(f"{SHOTS}/{shot}.png")
    errors = console_errors(driver)
    check(not errors, f"{path} renders with no console errors {errors if errors else ''}")


def wait_for(driver, timeout, condition, message):
    """Polls `condition`; live updates replace the page's content under it, so an element
    that went stale or is missing for a moment only means: look again."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=[NoSuchElementException, StaleElementReferenceException]).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s: {message}")


def js(driver, expression):
    """Evaluates `expression` in the page in one step (live updates cannot swap elements under it)."""
    return driver.execute_script("return " + expression)


def rows(driver):
    return js(driver, "[...document.querySelectorAll('#jobs tbody tr')].map(r => [r.dataset.job, r.dataset.state])")


def click(driver, css, message):
    """Clicks the element `css` matches, looking it up again if a live update replaced it."""
    wait_for(driver, 10, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True, message)


def main():
    driver = browser(1400, 1000, "--ignore-certificate-errors")
    try:
        # --- a user ---
        driver.get(URL + "/ui/login")
        driver.save_screenshot(f"{SHOTS}/login.png")
        sign_in(driver, USER_TOKEN)
        for path, shot in [("/ui/", None), ("/ui/jobs", None), ("/ui/nodes", None)]:
            visit(driver, path, shot)

        # A held job, for the filters below.
        held = subprocess.run(SUBMIT + ["--hold"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]

        # A job submitted with the CLI appears without a reload within 2 s, then changes state live.
        visit(driver, "/ui/jobs")
        driver.execute_script("window.__noReload = 'still here'")
        wait_for(driver, 10, lambda d: "on" in d.find_element(By.ID, "live").get_attribute("class"),
                 "the live-update stream is connected")
        submitted = time.monotonic()
        job = subprocess.run(SUBMIT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        wait_for(driver, 10, lambda d: any(r[0] == job for r in rows(d)), f"job {job} listed")
        appeared = time.monotonic() - submitted
        check(appeared < 2.0, f"job {job} appeared in the list {appeared:.2f} s after the CLI submitted it (< 2 s)")
        wait_for(driver, 180, lambda d: [job, "running"] in rows(d), f"job {job} shown running")
        check(driver.execute_script("return window.__noReload") == "still here",
              f"job {job} went from queued to running on the page without a reload")
        driver.save_screenshot(f"{SHOTS}/jobs.png")

        # Filters narrow the list.
        all_rows = len(rows(driver))
        Select(driver.find_element(By.NAME, "state")).select_by_visible_text("held")
        wait_for(driver, 10, lambda d: "state=held" in d.current_url, "the state filter applied")
        held_rows = [r[0] for r in rows(driver)]
        check(held_rows == [held] and all_rows >= 2, f"state=held narrows {all_rows} rows to the held job {held_rows}")
        visit(driver, f"/ui/jobs?state=running&vo={VO}")
        check([r[0] for r in rows(driver)] == [job], f"state=running&vo={VO} lists exactly job {job}")
        visit(driver, "/ui/jobs?vo=none")
        check(all(r[0] != job for r in rows(driver)), f"vo=none leaves job {job} out")
        click(driver, "a[data-sort='state']", "the State column's sort link")
        wait_for(driver, 10, lambda d: "sort=state" in d.current_url, "sorting by state")

        # The CPU map shows the job's pinned CPUs in its VO's colour.
        visit(driver, "/ui/", "overview")
        pinned = api(f"/v1/jobs/{job}", USER_TOKEN)["job"]["cpus"]
        cells = js(driver, f"[...document.querySelectorAll(\".cpu[data-job='{job}']\")]"
                           ".map(c => [Number(c.dataset.cpu), getComputedStyle(c).backgroundColor])")
        shown = sorted(c[0] for c in cells)
        check(shown == sorted(pinned), f"the CPU map shows job {job} on CPUs {shown}, where it is pinned ({pinned})")
        colour = js(driver, f"getComputedStyle(document.querySelector(\".legend-item[data-vo='{VO}'] .swatch\")).backgroundColor")
        check(all(c[1] == colour for c in cells), f"its CPUs have VO {VO}'s colour {colour}")

        # The job's page: timeline, output, console.
        visit(driver, f"/ui/jobs/{job}", "job")
        states = js(driver, "[...document.querySelectorAll('#timeline li')].map(li => li.dataset.state)")
        check(states[:3] == ["queued", "starting", "running"], f"the job page's timeline reads {states}")

        # The owner cancels the held job from its page (the page's confirm dialog, then the API).
        visit(driver, f"/ui/jobs/{held}")
        click(driver, f"[data-action='cancel'][data-job='{held}']", "the Cancel button")
        wait_for(driver, 5, lambda d: d.switch_to.alert, "the cancel confirmation").accept()
        wait_for(driver, 10, lambda d: d.find_element(By.CSS_SELECTOR, ".card.job").get_attribute("data-state") == "cancelled",
                 f"job {held} shown cancelled")
        check(api(f"/v1/jobs/{held}", USER_TOKEN)["job"]["state"] == "cancelled", f"the owner cancelled job {held} from its page")

        # A user cannot drain a node: no button, and the API refuses the page's own call.
        visit(driver, "/ui/nodes")
        check(not js(driver, "document.querySelector(\"[data-action='drain-node']\")"), "a user sees no drain button")
        refusal = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            window.vbatch.call("POST", "/v1/nodes/%s/state", {enabled: false, reason: "user try"})
              .then(() => done("accepted"), (e) => done(e.message));""" % NODE)
        check("only operators" in refusal, f"a user's drain from the page is refused: {refusal}")
        expected = console_errors(driver)
        check(all("403" in e["message"] for e in expected), "the only console error is that refusal (403)")
        check(api("/v1/nodes", OPERATOR_TOKEN)[0]["enabled"], f"{NODE} still takes jobs")

        # --- an operator ---
        click(driver, "form[action='/ui/logout'] button", "sign out")
        wait_for(driver, 10, lambda d: "/ui/login" in d.current_url, "signed out")
        sign_in(driver, OPERATOR_TOKEN)
        visit(driver, "/ui/nodes")
        click(driver, f"[data-action='drain-node'][data-node='{NODE}']", "the Drain button")
        dialog = wait_for(driver, 5, lambda d: d.find_element(By.ID, "drain-dialog"), "the drain dialog opens")
        dialog.find_element(By.NAME, "reason").send_keys("disk replacement")
        Select(dialog.find_element(By.NAME, "mode")).select_by_value("finish")
        driver.save_screenshot(f"{SHOTS}/drain-dialog.png")
        driver.find_element(By.ID, "drain-confirm").click()
        wait_for(driver, 10, lambda d: d.find_element(By.CSS_SELECTOR, f".node-row[data-node='{NODE}']")
                 .get_attribute("data-state") in ("draining", "drained"), f"{NODE} shown draining")
        node = api("/v1/nodes", OPERATOR_TOKEN)[0]
        check(not node["enabled"] and "disk replacement" in (node.get("note") or ""),
              f"the operator drained {NODE} from the page: {node.get('note')}")
        driver.save_screenshot(f"{SHOTS}/nodes.png")
        visit(driver, "/ui/", "overview-operator")
        errors = console_errors(driver)
        check(not errors, "no console errors at the end")
    finally:
        driver.quit()


if __name__ == "__main__":
    run(main)
