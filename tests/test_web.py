"""WebOracle: the server's contract over HTTP, then a real headless browser answering.

The HTTP tests drive the page's own API from the test thread while a cleaner
runs in another, as a browser would.  The browser tests (Selenium driving
Debian's Chromium) press the keys a person presses; they run wherever
Chromium and its driver are installed and must run in CI (``.ci/run``
installs them), so there a missing browser fails instead of skipping.
"""

import copy
import json
import os
import pickle
import shutil
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

pytest.importorskip("flask")

from skclean import ChefCleaner, CincerCleaner, SimulatedOracle  # noqa: E402
from skclean.datasets import flip_labels, load_dataset  # noqa: E402
from skclean.questions import Journal  # noqa: E402
from skclean.web import WebOracle  # noqa: E402


@pytest.fixture(scope="module")
def wine():
    X, _, y, _ = load_dataset("wine", test_size=0.3, random_state=0)
    y_noisy, _ = flip_labels(y, 0.25, random_state=0)
    trusted = np.arange(len(y)) % 4 == 0
    y_noisy[trusted] = y[trusted]
    return X, y, y_noisy, trusted


class Page:
    """The page's requests, from the test thread."""

    def __init__(self, oracle, token=None):
        self.base, found = oracle.url.split("/?token=")
        self.token = found if token is None else token

    def call(self, path, body=None):
        req = urllib.request.Request(
            f"{self.base}/{path}", data=None if body is None else json.dumps(body).encode(),
            headers={"X-Skclean-Token": self.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, (json.loads(text) if path.startswith("api") else text)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def question(self, run, timeout=60):
        """The next open question, or ``None`` once ``run`` (the cleaner's thread) ended."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            q = self.call("api/state")[1]["question"]
            if q is not None:
                return q
            if not run.is_alive():
                return None
            time.sleep(0.02)
        raise AssertionError("no question came")


def in_thread(fn):
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc
    t = threading.Thread(target=target, daemon=True)
    t.box = box
    t.start()
    return t


def finish(run):
    run.join(60)
    assert not run.is_alive()
    if "error" in run.box:
        raise run.box["error"]
    return run.box.get("result")


def answer_truth(page, run, y_true, *, first=None):
    """Answer every question with the true labels, as a careful person would."""
    while (q := page.question(run)) is not None:
        for i, row in enumerate(q["rows"]):
            if row["answer"] is None:
                if first is not None:
                    first(page, q, i)
                    first = None
                assert page.call("api/answer", {"question": q["id"], "row": i, "label": str(
                    y_true[int(row["row_id"])])})[0] == 200
        assert page.call("api/send", {"question": q["id"]})[0] == 200


def answers_of(report):
    return report[["row_id", "given", "answer", "skipped"]].to_dict("records")


def test_only_the_token_opens_the_page_and_the_server_listens_on_localhost(wine):
    with WebOracle() as oracle:
        assert oracle.url.startswith("http://127.0.0.1:")
        for token in ("", "wrong"):
            status, body = Page(oracle, token).call("api/state")
            assert status == 403 and "token" in body["error"]
        status, html = Page(oracle).call("")
        assert status == 200 and b"label review" in html
        # Jupyter shows the page inline (the kernel is busy: the page talks HTTP) and a link
        assert f'iframe src="{oracle.url}"' in oracle._repr_html_()
        copied = copy.deepcopy(oracle)
        assert copied is oracle  # clones of a cleaner share the person's page
        loaded = pickle.loads(pickle.dumps(oracle))
        assert repr(loaded) == "WebOracle(not started)"


def test_answers_over_http_equal_a_simulated_run_and_faults_change_nothing(wine, tmp_path):
    X, y, y_noisy, trusted = wine
    make = lambda oracle, journal=None: ChefCleaner(  # noqa: E731
        LogisticRegression(), oracle=oracle, budget=6, batch_size=3, journal=journal,
        random_state=0)
    expected = make(SimulatedOracle(X, y)).fit(X, y_noisy, trusted_mask=trusted)
    with WebOracle() as oracle:
        journal = tmp_path / "answers.sqlite"
        chef = make(oracle, str(journal))
        run = in_thread(lambda: chef.fit(X, y_noisy, trusted_mask=trusted))
        page = Page(oracle)

        def faults(page, q, i):
            before = page.call("api/state")[1]
            assert page.call("api/answer", {"question": q["id"], "row": i, "label": "9"})[0] \
                == 400  # not a class
            assert page.call("api/answer", {"question": "old", "row": i, "label": "0"})[0] \
                == 409  # a question no longer open
            assert page.call("api/answer", {"question": q["id"], "row": 99, "label": "0"})[0] \
                == 400
            assert page.call("api/send", {"question": q["id"]})[0] == 409  # not all answered
            assert page.call("api/state")[1] == before  # nothing changed
            # an answer, undone: the journal withdraws it
            assert page.call("api/answer", {"question": q["id"], "row": i, "command": "skip"})[0] \
                == 200
            assert page.call("api/answer", {"question": q["id"], "row": i, "label": "0"})[0] \
                == 409  # answered once (a second tab)
            assert page.call("api/undo", {"question": q["id"]})[0] == 200
            assert page.call("api/state")[1]["question"]["rows"][i]["answer"] is None

        answer_truth(page, run, y, first=faults)
        finish(run)
        assert page.call("api/state")[1]["closed"].startswith("the cleaner finished")
    assert answers_of(chef.cleaning_report()) == answers_of(expected.cleaning_report())
    assert chef.n_changed_ == expected.n_changed_ > 0
    # the journal holds the answers as given, the withdrawn skip not among them
    assert len(Journal(str(journal))) == 6


def test_an_answer_the_journal_cannot_save_is_refused_and_shown(wine, monkeypatch):
    X, y, y_noisy, trusted = wine
    with WebOracle() as oracle:
        chef = ChefCleaner(LogisticRegression(), oracle=oracle, budget=2, batch_size=2,
                           random_state=0)
        run = in_thread(lambda: chef.fit(X, y_noisy, trusted_mask=trusted))
        page = Page(oracle)
        q = page.question(run)
        failing = {"left": 1}
        real = Journal.record

        def record(self, entries):
            if failing["left"]:
                failing["left"] -= 1
                raise OSError("disk full")
            return real(self, entries)

        monkeypatch.setattr(Journal, "record", record)
        status, body = page.call("api/answer", {"question": q["id"], "row": 0, "label": "1"})
        assert status == 500 and "disk full" in body["error"] and "nothing was changed" in \
            body["error"]
        assert page.call("api/state")[1]["question"]["rows"][0]["answer"] is None
        answer_truth(page, run, y)
        finish(run)
    assert chef.cleaning_report()["answer"].notna().all()


def test_stop_keeps_every_answer_and_the_next_run_resumes(wine, tmp_path):
    X, y, y_noisy, trusted = wine
    journal = str(tmp_path / "answers.sqlite")
    make = lambda oracle: ChefCleaner(LogisticRegression(), oracle=oracle, budget=6,  # noqa
                                      batch_size=3, journal=journal, random_state=0)
    with WebOracle() as oracle:
        run = in_thread(lambda: make(oracle).fit(X, y_noisy, trusted_mask=trusted))
        page = Page(oracle)
        q = page.question(run)
        for i in range(2):  # two rows answered "keep", then stop
            assert page.call("api/answer", {"question": q["id"], "row": i,
                                            "command": "keep"})[0] == 200
        assert page.call("api/stop", {})[0] == 200
        stopped = finish(run)
    assert stopped.n_cleaned_ == 2
    resumed = make(SimulatedOracle(X, y)).fit(X, y_noisy, trusted_mask=trusted)
    report = resumed.cleaning_report()
    assert report["from_journal"].sum() == 2  # not asked twice
    kept = report[report["from_journal"]]
    assert (kept["answer"] == kept["given"]).all()  # the person's "keep", not the truth


def test_a_killed_process_loses_no_answer(tmp_path):
    """The answers are on disk when the page says saved: a process killed after the first
    answers leaves them in the journal."""
    import subprocess
    import sys

    journal = tmp_path / "answers.sqlite"
    script = f"""
import numpy as np, sys
from sklearn.linear_model import LogisticRegression
from skclean import ChefCleaner
from skclean.datasets import load_dataset
from skclean.web import WebOracle
X, _, y, _ = load_dataset("wine", test_size=0.3, random_state=0)
oracle = WebOracle(print_fn=lambda s: (print(s.split()[-1], flush=True)))
ChefCleaner(LogisticRegression(), oracle=oracle, budget=6, batch_size=3,
            journal={str(journal)!r}, random_state=0).fit(
    X, y, trusted_mask=np.arange(len(y)) % 4 == 0)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        page = Page.__new__(Page)
        page.base, page.token = url.split("/?token=")
        q = None
        while q is None:
            q = page.call("api/state")[1]["question"]
        assert page.call("api/answer", {"question": q["id"], "row": 0, "label": "2"})[0] == 200
    finally:
        proc.kill()
        proc.wait()
    assert len(Journal(str(journal))) == 1


# ------------------------------------------------------------------ a real browser
def _browser():
    """Headless Chromium through Selenium, or a skip saying what is missing (outside CI)."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests; missing: {missing}")
        pytest.skip(f"the browser tests need {missing} (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _keys(browser, text):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(text).perform()


def _wait(browser, check, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            value = browser.execute_script(check)
        except Exception:  # noqa: BLE001 - the page is reloading
            value = None
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError(f"the page never showed: {check}")


ACTIVE = ("const c = document.querySelector('.card.active');"
          "return c && [c.dataset.row, c.querySelector('.rowid').textContent.split(' ')[1], "
          "document.getElementById('message').textContent];")
SENDABLE = "return document.getElementById('help').textContent.includes('Every row is answered')"


def _answer_in_browser(browser, run, y_true, *, on_question=None):
    """Press the true label's key for each row, Enter to send; ``on_question(k)`` first."""
    k = 0
    while run.is_alive():
        try:
            row, rid, _ = _wait(browser, ACTIVE, timeout=5)
        except AssertionError:
            continue  # between questions, or the run ended
        if on_question is not None:
            on_question(k, row)
        row, rid, _ = _wait(browser, ACTIVE)
        _keys(browser, str(y_true[int(rid)]))
        _wait(browser, f"const c = document.querySelector('.card[data-row=\"{row}\"] .answer');"
                       "return c && c.textContent.includes('saved');")
        if browser.execute_script(SENDABLE):
            from selenium.webdriver.common.keys import Keys

            _keys(browser, Keys.ENTER)
            k += 1
            _wait(browser, "return !document.querySelector('.card.done') || "
                           "document.querySelector('.card.active')", timeout=10)


def test_a_person_answers_chef_in_the_browser_with_reload_undo_and_stop(wine, browser,
                                                                        tmp_path):
    X, y, y_noisy, trusted = wine
    make = lambda oracle, journal=None: ChefCleaner(  # noqa: E731
        LogisticRegression(), oracle=oracle, budget=6, batch_size=3, journal=journal,
        random_state=0)
    expected = make(SimulatedOracle(X, y)).fit(X, y_noisy, trusted_mask=trusted)
    journal = str(tmp_path / "answers.sqlite")
    with WebOracle() as oracle:
        chef = make(oracle, journal)
        run = in_thread(lambda: chef.fit(X, y_noisy, trusted_mask=trusted))
        browser.get(oracle.url)

        def mid_question(k, row):
            if k == 0 and row == "1":  # a reload in the middle of a question
                browser.refresh()
                _wait(browser, "return document.querySelectorAll('.card.done').length === 1")
            if k == 1 and row == "0":  # a wrong key, undone
                wrong = next(c for c in ("0", "1", "2") if c != str(y[int(_wait(
                    browser, ACTIVE)[1])]))
                _keys(browser, wrong)
                _wait(browser, "return document.querySelectorAll('.card.done').length === 1")
                _keys(browser, "u")
                _wait(browser, "return document.querySelectorAll('.card.done').length === 0")

        _answer_in_browser(browser, run, y, on_question=mid_question)
        finish(run)
        _wait(browser, "return !document.getElementById('ended').hidden")
    assert answers_of(chef.cleaning_report()) == answers_of(expected.cleaning_report())

    # stop from the page: the answers given are kept, and the next run resumes
    stop_journal = str(tmp_path / "stop.sqlite")
    with WebOracle() as oracle:
        run = in_thread(lambda: make(oracle, stop_journal).fit(X, y_noisy,
                                                               trusted_mask=trusted))
        browser.get(oracle.url)
        _, rid, _ = _wait(browser, ACTIVE)
        _keys(browser, "k")  # keep the first row's label
        _wait(browser, "return document.querySelectorAll('.card.done').length === 1")
        _keys(browser, "q")
        stopped = finish(run)
    assert stopped.n_cleaned_ == 1
    resumed = make(SimulatedOracle(X, y), stop_journal).fit(X, y_noisy, trusted_mask=trusted)
    assert resumed.cleaning_report()["from_journal"].sum() == 1


def test_a_person_answers_cincer_in_the_browser_and_sees_errors_plainly(wine, browser):
    X, y, y_noisy, trusted = wine
    start = np.flatnonzero(trusted)
    stream = np.flatnonzero(~trusted)[:40]
    make = lambda oracle: CincerCleaner(LogisticRegression(), oracle=oracle,  # noqa: E731
                                        threshold=0.3, random_state=0)
    expected = make(SimulatedOracle(X, y)).fit(X[start], y[start], row_ids=start).partial_fit(
        X[stream], y_noisy[stream], row_ids=stream)
    assert expected.n_queries_ >= 2
    with WebOracle() as oracle:
        cincer = make(oracle).fit(X[start], y[start], row_ids=start)
        run = in_thread(lambda: cincer.partial_fit(X[stream], y_noisy[stream], row_ids=stream))
        browser.get(oracle.url)
        # the suspicious row and its counter-example side by side, roles shown
        _wait(browser, "return document.querySelectorAll('.card').length === 2")
        roles = browser.execute_script(
            "return [...document.querySelectorAll('.card .role')].map(e => e.textContent)")
        assert roles == ["suspicious", "counterexample"]
        # a class typed into the search that is not one: the server's refusal, shown plainly
        browser.execute_script("document.getElementById('search').focus()")
        _keys(browser, "seven\n")
        message = _wait(browser, "const m = document.getElementById('message');"
                                 "return m.className === 'error' && m.textContent")
        assert "'seven' is not a class" in message
        _answer_in_browser(browser, run, y)
        finish(run)
    assert answers_of(cincer.cleaning_report()) == answers_of(expected.cleaning_report())


def test_the_page_says_when_the_connection_is_lost(wine, browser):
    X, y, y_noisy, trusted = wine
    oracle = WebOracle()
    chef = ChefCleaner(LogisticRegression(), oracle=oracle, budget=2, batch_size=2,
                       random_state=0)
    run = in_thread(lambda: chef.fit(X, y_noisy, trusted_mask=trusted))
    browser.get(oracle.url)
    _wait(browser, ACTIVE)
    oracle._server.shutdown()  # the process behind the page goes away
    message = _wait(browser, "const m = document.getElementById('message');"
                             "return m.className === 'error' && m.textContent")
    assert "connection to the cleaner was lost" in message
    oracle._board.request_stop()
    finish(run)
    oracle._server = None
    assert clone(chef).oracle is oracle


def test_the_cli_serves_the_questions_with_web_and_writes_the_answers(tmp_path):
    """``skclean clean ... --web`` prints the link; the raw row (string columns, names) is
    on the page; the answers reach the cleaned CSV."""
    import subprocess
    import sys

    import pandas as pd
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    df = d.frame.sample(80, random_state=0).reset_index(drop=True)
    df["label"] = np.array(["barolo", "grignolino", "barbera"])[df.pop("target")]
    df["note"] = "a long tasting note about this bottle, read before judging its label " * 2
    df["verified"] = np.arange(len(df)) % 4 == 0
    path, out = tmp_path / "wine.csv", tmp_path / "clean.csv"
    df.to_csv(path, index=False)
    for bad, message in ((["--port", "8000"], "--port is the port of the --web page"),
                         (["--web", "--truth", "label"], "--web is for a person")):
        r = subprocess.run([sys.executable, "-m", "skclean", "clean", path, "--label", "label",
                            "--out", out, *bad], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and message in r.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "skclean", "clean", path, "--label", "label", "--trusted",
         "verified", "--text", "note", "--out", out, "--budget", "4", "--batch-size", "2",
         "--method", "chef", "--web"], stdout=subprocess.PIPE, text=True)
    try:
        url = next(line for line in proc.stdout if "http://127.0.0.1" in line).split()[-1]
        page = Page.__new__(Page)
        page.base, page.token = url.split("/?token=")
        for _ in range(2):
            q = None
            while q is None:
                q = page.call("api/state")[1]["question"]
            view = q["rows"][0]["view"]
            assert dict(view["texts"])["note"].startswith("a long tasting note")
            assert ["alcohol", view["table"][0][1]] == view["table"][0]
            for i in range(len(q["rows"])):
                assert page.call("api/answer", {"question": q["id"], "row": i,
                                                "label": "barbera"})[0] == 200
            assert page.call("api/send", {"question": q["id"]})[0] == 200
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
    cleaned = pd.read_csv(out)
    assert (cleaned["label"] == "barbera").sum() >= (df["label"] == "barbera").sum() + 1


def test_a_person_who_never_answers_stops_the_cleaning_after_timeout(wine):
    X, y, y_noisy, trusted = wine
    with WebOracle(timeout=0.3, print_fn=lambda s: None) as oracle:
        chef = ChefCleaner(LogisticRegression(), oracle=oracle, budget=4, batch_size=2,
                           random_state=0).fit(X, y_noisy, trusted_mask=trusted)
    assert chef.n_cleaned_ == 0 and chef.cleaning_report()["skipped"].all()


def test_in_a_jupyter_kernel_the_page_answers_while_the_cell_runs(tmp_path):
    """A real kernel: the cell that fits the cleaner blocks, the page is shown in its output,
    and the answers reach it over HTTP (the kernel handles no messages meanwhile)."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    km, kc = manager.start_new_kernel(kernel_name="python3")
    try:
        cell = """
import numpy as np
from sklearn.linear_model import LogisticRegression
from skclean import ChefCleaner
from skclean.datasets import load_dataset
from skclean.web import WebOracle
X, _, y, _ = load_dataset("wine", test_size=0.3, random_state=0)
oracle = WebOracle()
chef = ChefCleaner(LogisticRegression(), oracle=oracle, budget=2, batch_size=2,
                   random_state=0).fit(X, y, trusted_mask=np.arange(len(y)) % 4 == 0)
print("cleaned", chef.n_cleaned_)
"""
        msg_id = kc.execute(cell)
        url, printed = None, []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data" and url is None:
                html = content["data"]["text/html"]
                assert "<iframe" in html  # the page, inline in the cell's output
                url = html.split('href="')[1].split('"')[0]
                page = Page.__new__(Page)
                page.base, page.token = url.split("/?token=")
                q = None
                while q is None:
                    q = page.call("api/state")[1]["question"]
                for i in range(len(q["rows"])):
                    assert page.call("api/answer", {"question": q["id"], "row": i,
                                                    "command": "keep"})[0] == 200
                assert page.call("api/send", {"question": q["id"]})[0] == 200
            elif kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        assert url is not None and "cleaned 2" in "".join(printed)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
