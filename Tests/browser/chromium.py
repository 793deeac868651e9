"""What the browser tests share: headless Chromium through Debian's chromedriver, the
checks they print, and how they end."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def check(condition, message):
    """One check: its message printed with `ok:`, or the run fails with it."""
    if not condition:
        raise AssertionError(message)
    print("ok:", message, flush=True)


def browser(width, height, *arguments):
    """Headless Chromium of the given window size, with its console log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", *arguments]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def run(main):
    """Runs `main`; exits 1 with the first failed check."""
    try:
        main()
    except AssertionError as failure:
        print("FAILED:", failure, flush=True)
        sys.exit(1)
