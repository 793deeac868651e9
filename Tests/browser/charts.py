#!/usr/bin/python3
"""Renders the SVG charts of `vbatch simulate --plot` in headless Chromium (Debian's chromium
and chromium-driver, through python3-selenium). Run by
Tests/VBatchDaemonTests/SimulateScheduleTests.swift:

  charts.py CHART_DIR SCREENSHOT_DIR EXPECTED_JSON

EXPECTED_JSON maps each chart file expected to the colours ("#rrggbb") of its series. For each:
Chromium opens it with no console error, it is the size it says, a screenshot goes to
SCREENSHOT_DIR/<chart>.png, and drawn onto a canvas it has pixels of every series colour (so
the lines were really drawn, not only written); no other chart was written.
Exits 0 when every check holds; prints one line per check.
"""
import base64
import json
import os
import sys

from chromium import browser, check, console_errors, run

CHARTS, SHOTS, EXPECTED = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


# Counts, per colour ("#rrggbb"), the canvas pixels within a small distance of it.
COUNT_PIXELS = """
const [source, colours, done] = arguments;
const image = new Image();
image.onerror = () => done({error: 'the SVG did not load as an image'});
image.onload = () => {
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const targets = colours.map(c => [1, 3, 5].map(i => parseInt(c.substr(i, 2), 16)));
    const counts = colours.map(() => 0);
    let other = 0;
    for (let p = 0; p < data.length; p += 4) {
        let matched = false;
        targets.forEach((t, i) => {
            if (Math.abs(data[p] - t[0]) + Math.abs(data[p + 1] - t[1]) + Math.abs(data[p + 2] - t[2]) < 40) { counts[i]++; matched = true; }
        });
        if (!matched && data[p] < 250) other++;
    }
    done({width: canvas.width, height: canvas.height, counts: counts, other: other});
};
image.src = source;
"""


def main():
    os.makedirs(SHOTS, exist_ok=True)
    driver = browser(900, 620)
    try:
        driver.set_script_timeout(20)
        check(sorted(f for f in os.listdir(CHARTS) if f.endswith(".svg")) == sorted(EXPECTED),
              f"the charts written are {sorted(EXPECTED)}")
        for name, colours in sorted(EXPECTED.items()):
            path = os.path.join(CHARTS, name)
            driver.get("file://" + path)
            errors = console_errors(driver)
            check(not errors, f"{name}: Chromium opens it without errors {errors}")
            size = driver.execute_script(
                "const r = document.documentElement.getBoundingClientRect(); return [r.width, r.height, "
                "document.querySelectorAll('polyline').length, document.documentElement.tagName]")
            check(size[3] == "svg" and size[0] > 800 and size[1] > 400 and size[2] >= 1,
                  f"{name}: an SVG of {size[0]:.0f}×{size[1]:.0f} with {size[2]} lines")
            shot = os.path.join(SHOTS, name.replace(".svg", ".png"))
            driver.save_screenshot(shot)
            check(os.path.getsize(shot) > 5000, f"{name}: screenshot {shot}")
            with open(path, "rb") as f:
                source = "data:image/svg+xml;base64," + base64.b64encode(f.read()).decode()
            driver.get("about:blank")
            pixels = driver.execute_async_script(COUNT_PIXELS, source, colours)
            check("error" not in pixels, f"{name}: drawn onto a canvas ({pixels.get('error', 'loaded')})")
            check(all(n >= 100 for n in pixels["counts"]),
                  f"{name}: every series colour {colours} is drawn ({pixels['counts']} pixels; {pixels['other']} of axes and text)")
    finally:
        driver.quit()


if __name__ == "__main__":
    run(main)
