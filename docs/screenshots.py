"""Screenshots of the review page for the docs, and how long one keyboard answer takes.

Three tasks, each cleaned with :class:`~skclean.web.WebOracle` while headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium)
plays the person:

* images: CINCER on the 8×8 digits, a suspicious image beside its
  counter-example;
* text: CHEF on docstrings labelled by module, a TF-IDF Pipeline as the model;
* a table: CHEF on the wine data as a DataFrame, named columns.

For the time of one answer, the browser answers 40 rows of the table task
with the true label's key and the time from the key press to the page
showing the answer saved (journaled on disk) is measured; the median is
printed.

    python docs/screenshots.py   # writes docs/_static/web_*.png
"""

import os
import shutil
import tempfile
import threading
import time

import numpy as np
import pandas as pd
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from sklearn.datasets import load_digits, load_wine
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skclean import ChefCleaner, CincerCleaner
from skclean.datasets import flip_labels, load_docstrings
from skclean.web import WebOracle

HERE = os.path.dirname(os.path.abspath(__file__))
ACTIVE = "return document.querySelector('.card.active .rowid')?.textContent.split(' ')[1]"


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1280,860",
                "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def wait(driver, script, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.005)
    raise RuntimeError(f"the page never showed: {script}")


def serve(cleaner_fit, oracle, driver):
    thread = threading.Thread(target=cleaner_fit, daemon=True)
    thread.start()
    driver.get(oracle.url)
    wait(driver, ACTIVE)
    return thread


def shoot(driver, name, y_true=None, answer_first=True):
    """Answer the first row (so one shows "saved"), then photograph the page."""
    if answer_first and y_true is not None:
        rid = wait(driver, ACTIVE)
        ActionChains(driver).send_keys("k").perform()
        wait(driver, "return document.querySelector('.answer')")
        del rid
    time.sleep(0.3)
    path = os.path.join(HERE, "_static", f"web_{name}.png")
    driver.save_screenshot(path)
    print("wrote", path)


def images(driver):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    start = np.arange(300)
    y_noisy[start] = y[start]
    oracle = WebOracle(image_shape=(8, 8), print_fn=lambda s: None)
    cincer = CincerCleaner(LogisticRegression(max_iter=500), oracle=oracle, threshold=0.5,
                           random_state=0).fit(X[start], y[start], row_ids=start)
    stream = np.arange(300, 700)
    serve(lambda: cincer.partial_fit(X[stream], y_noisy[stream], row_ids=stream), oracle, driver)
    wait(driver, "return document.querySelectorAll('.card').length === 2")
    shoot(driver, "image", answer_first=False)
    oracle.close()


def text(driver):
    texts, labels = load_docstrings(["json", "sqlite3", "csv", "argparse", "logging",
                                     "unittest"])
    labels = np.asarray(labels)
    noisy, _ = flip_labels(labels, 0.2, random_state=0)
    verified = np.arange(len(labels)) % 5 == 0
    noisy[verified] = labels[verified]
    oracle = WebOracle(data=list(texts), print_fn=lambda s: None)
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(C=10))
    chef = ChefCleaner(model, oracle=oracle, budget=6, batch_size=2, random_state=0)
    serve(lambda: chef.fit(list(texts), noisy, trusted_mask=verified), oracle, driver)
    shoot(driver, "text", labels)
    oracle.close()


def table(driver, n_timed=40):
    d = load_wine(as_frame=True)
    df = d.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    names = np.array(["barolo", "grignolino", "barbera"])
    truth = names[df.pop("target").to_numpy()]
    noisy, _ = flip_labels(truth, 0.2, random_state=0)
    verified = np.arange(len(df)) % 4 == 0
    noisy[verified] = truth[verified]
    oracle = WebOracle(data=df, print_fn=lambda s: None)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    journal = os.path.join(tempfile.mkdtemp(), "answers.sqlite")
    chef = ChefCleaner(model, oracle=oracle, budget=n_timed, batch_size=5, journal=journal,
                       random_state=0)
    run = serve(lambda: chef.fit(df, noisy, trusted_mask=verified), oracle, driver)
    shoot(driver, "table", truth)
    # the rest answered from the keyboard: 1–3 are the classes in order
    keys = {c: str(i + 1) for i, c in enumerate(sorted(names))}
    times = []
    while run.is_alive():
        try:
            rid = wait(driver, ACTIVE, timeout=2)
        except RuntimeError:
            if driver.execute_script("return document.getElementById('help').textContent"
                                     ".includes('Every row is answered')"):
                ActionChains(driver).send_keys(Keys.ENTER).perform()
            continue
        done = driver.execute_script("return document.querySelectorAll('.answer').length")
        t0 = time.perf_counter()
        ActionChains(driver).send_keys(keys[truth[int(rid)]]).perform()
        wait(driver, f"return document.querySelectorAll('.answer').length > {done}")
        times.append(time.perf_counter() - t0)
        if driver.execute_script("return document.getElementById('help').textContent"
                                 ".includes('Every row is answered')"):
            ActionChains(driver).send_keys(Keys.ENTER).perform()
    oracle.close()
    report = chef.cleaning_report()
    print(f"{len(times)} answers from the keyboard: median {1000 * np.median(times):.0f} ms "
          f"from key press to saved on the page (min {1000 * np.min(times):.0f}, max "
          f"{1000 * np.max(times):.0f}); {int(report['changed'].sum())} labels changed")


def main():
    driver = browser()
    try:
        images(driver)
        text(driver)
        table(driver)
    finally:
        driver.quit()
    print(pd.Timestamp.now().isoformat(timespec="seconds"))


if __name__ == "__main__":
    main()
