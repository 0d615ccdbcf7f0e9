"""The HTML report in a real headless Chromium (Debian's chromium + chromedriver, via Selenium).

Alert banner for a >= 3 Gy case and none for 1.5 Gy; the 3-D view renders (non-blank canvas
pixels), rotates on drag and shows a dose on hover; page one fits one A4 page in print layout;
no request leaves the file (the network is blocked and nothing failed to load).
"""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from skindose import report
from tests.test_plotting import make_result

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed "
                                "(pip install selenium)")

_CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser = report.find_chromium()
    if browser is None or not Path(_CHROMEDRIVER).exists():
        pytest.skip("needs chromium and chromedriver (Debian: chromium, chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--window-size=1100,1400", "--disable-background-networking",
                f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=opts, service=Service(_CHROMEDRIVER))
    # block the network: any request that is not file: or data: fails
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*",
                                                          "wss://*", "ftp://*"]})
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from tests.test_report import _notes, _with_notes

    # the hot case carries typed notes of every severity, so page one has caveats to fit
    hot = _with_notes(make_result(peak_gy=4.2), *_notes())
    return {"hot": report.save(hot, tmp_path_factory.mktemp("hot")),
            "calm": report.save(make_result(peak_gy=1.5), tmp_path_factory.mktemp("calm"))}


def _open(driver, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.getElementById('sd3d')?.dataset.ready"))


def _canvas_pixels(driver) -> np.ndarray:
    import matplotlib.image as mimg

    el = driver.find_element("css selector", "#sd3d canvas")
    png = base64.b64decode(el.screenshot_as_base64)
    return (mimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(np.int16)


def test_alert_banner_only_at_the_substantial_level(driver, reports):
    _open(driver, reports["hot"]["report"])
    banner = driver.find_elements("id", "alert")
    assert banner and banner[0].is_displayed()
    assert "Substantial radiation dose level" in banner[0].text
    assert "≥ 3 Gy" in banner[0].text and "Peak skin dose 4." in banner[0].text
    _open(driver, reports["calm"]["report"])
    assert not driver.find_elements("id", "alert")
    assert "No substantial radiation dose level" in driver.find_element("id", "no-alert").text


def test_3d_view_renders_rotates_and_hovers(driver, reports):
    from selenium.webdriver.common.action_chains import ActionChains

    _open(driver, reports["hot"]["report"])
    host = driver.find_element("id", "sd3d")
    assert host.get_attribute("data-ready") == "1", host.text
    driver.execute_script("arguments[0].scrollIntoView()", host)
    before = _canvas_pixels(driver)
    coloured = (np.abs(before - 255).sum(axis=2) > 30).mean()
    assert coloured > 0.03, coloured  # the phantom is drawn, not a blank canvas
    # dosed (viridis) pixels are there: blue/purple dominant, not grey
    assert ((before[..., 2] - before[..., 0]) > 40).mean() > 0.001
    canvas = driver.find_element("css selector", "#sd3d canvas")
    ActionChains(driver).move_to_element(canvas).click_and_hold().move_by_offset(120, 0) \
        .release().perform()
    after = _canvas_pixels(driver)
    assert int(host.get_attribute("data-rotated") or 0) > 0
    assert (np.abs(after - before).sum(axis=2) > 30).mean() > 0.01  # the picture changed
    # hover over the middle of the body: a dose and a location label
    driver.find_element("css selector", "button[data-view='psd']").click()
    ActionChains(driver).move_to_element(canvas).move_by_offset(1, 1).perform()
    text = host.get_attribute("data-hover") or ""
    assert ("Gy" in text) and " · " in text, text
    tip = driver.find_element("css selector", ".sd3d-tip")
    assert tip.is_displayed() and tip.text == text


def test_page_one_fits_one_a4_page(driver, reports):
    _open(driver, reports["hot"]["report"])
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        # A4 at 96 px/in with 10 mm margins: the printable box is 190 x 277 mm
        driver.set_window_size(int(190 / 25.4 * 96) + 16, 1400)
        h = driver.execute_script(
            "return document.getElementById('page1').getBoundingClientRect().height")
        assert h <= 277 / 25.4 * 96, h
        caveats = driver.find_element("id", "caveats").text
        assert "file ended early" in caveats and "not calibrated" in caveats
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        driver.set_window_size(1100, 1400)
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69,
                                                     "marginTop": 0.39, "marginBottom": 0.39,
                                                     "marginLeft": 0.39, "marginRight": 0.39,
                                                     "preferCSSPageSize": True})
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")


def test_no_request_leaves_the_file(driver, reports):
    _open(driver, reports["hot"]["report"])
    entries = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(("file:", "data:", "blob:")) for u in entries), entries
    logs = driver.get_log("browser")
    failed = [e for e in logs if "Failed to load" in e["message"]
              or "ERR_" in e["message"] or e["level"] == "SEVERE"]
    assert not failed, failed
    imgs = driver.execute_script(
        "return [...document.images].map(i => [i.complete && i.naturalWidth > 0, "
        "i.src.slice(0, 22)])")
    assert imgs and all(ok and src.startswith("data:image/png") for ok, src in imgs), imgs
