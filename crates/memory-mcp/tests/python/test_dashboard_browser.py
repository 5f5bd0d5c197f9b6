"""The web dashboard in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium against the debug `memory` binary.

A store is filled through the CLI (`memory demo`, an episode left running with a checkpoint,
relationships, an episode in a second namespace), then `memory serve --auth-token` serves it.
The test signs in through /login (a wrong token first), walks every page, checks that each
shows what was recorded (the overview every namespace of the store), that Older and Newer
page the episode list by cursor (each episode once; back, forward and a reload land on the
right page) and that the filters and the search narrow it, that the namespace's graph links
each episode, that the playground returns the pack, that deleting an episode takes a
confirmation, that requests without the session cookie are refused and that the cookie
(named after the server's port) opens nothing outside the dashboard; every page must load
with no console error. Screenshots go to target/dashboard-screenshots/.

Usage: test_dashboard_browser.py PATH/TO/memory [SCREENSHOT_DIR]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

TOKEN = "dashboard-test-token-0123456789abcdef"
# Selenium never fetches a driver or a browser: Debian's are used.
os.environ.setdefault("SE_OFFLINE", "true")


def run(binary, db, *args):
    out = subprocess.run(
        [binary, "--db", db, *args], check=True, capture_output=True, text=True, timeout=120
    )
    return out.stdout


def fill_store(binary, db):
    run(binary, db, "demo")
    episodes = json.loads(run(binary, db, "episode", "list", "--format", "json", "--limit", "100"))
    running = json.loads(
        run(binary, db, "episode", "start", "--task", "Investigate the flaky staging deploy",
            "--domain", "infra", "--language", "yaml", "--tag", "flaky", "--format", "json")
    )["id"]
    run(binary, db, "checkpoint", running, "--note", "rollout paused; next: compare the two configs")
    # Two edges around the first episode, for the relationship panel and the graph.
    first, second, third = (e["id"] for e in episodes[:3])
    run(binary, db, "relate", first, "--kind", "follows", second)
    run(binary, db, "relate", third, "--kind", "depends_on", first)
    # A second namespace, which a whole-store caller's overview lists.
    run(binary, db, "--namespace", "ops", "episode", "start", "--task", "Rotate the TLS certificates")
    return episodes, running, first


def start_server(binary, db):
    proc = subprocess.Popen(
        [binary, "--db", db, "serve", "--listen", "127.0.0.1:0", "--auth-token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline()
    match = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", line)
    assert match, f"no dashboard URL in: {line!r}"
    return proc, match.group(1)


def status(url, headers=None, method="GET", data=None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


class Check:
    def __init__(self, driver, shots):
        self.d = driver
        self.shots = shots
        self.wait = WebDriverWait(driver, 15)

    def console_clean(self, page):
        errors = [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"console errors on {page}: {errors}"
        body = self.d.find_element(By.TAG_NAME, "body").text
        for broken in ("[object ", "undefined", "NaN"):
            assert broken not in body, f"{broken!r} shown on {page}"

    def shot(self, name):
        self.d.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def find(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text_appears(self, css, text):
        self.wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def rows(self, css):
        return len(self.d.find_elements(By.CSS_SELECTOR, f"{css} tbody tr"))

    def page(self, base, hash_, ready_css):
        self.d.get(f"{base}/#/{hash_}")
        return self.find(ready_css)

    def listed_ids(self):
        links = self.d.find_elements(By.CSS_SELECTOR, "#episode-list tbody tr .task a")
        return [re.search(r"#/episode/([0-9a-f-]+)", a.get_dom_attribute("href")).group(1) for a in links]

    def turn(self, link_css, expected_range):
        """Clicks a pager link and waits for the page whose range reads `expected_range`."""
        self.find(link_css).click()
        self.text_appears("#episode-range", expected_range)
        return self.listed_ids()


def page_walk(c, total, size):
    """Pages the episode list by cursor, `size` a page: each episode once, Newer goes back,
    the browser's back button and a reload land on the right page."""
    c.page(c.base, f"episodes?limit={size}", "#episode-list tbody tr")
    c.text_appears("#episode-range", f"1–{size}")
    assert not c.d.find_elements(By.CSS_SELECTOR, "#prev-page")
    pages = [c.listed_ids()]
    while c.d.find_elements(By.CSS_SELECTOR, "#next-page"):
        first = len(pages) * size + 1
        pages.append(c.turn("#next-page", f"{first}–"))
        if len(pages) == 2:
            c.d.execute_script("document.getElementById('episode-range').scrollIntoView()")
            c.shot("2-episodes-paged")
    seen = [i for p in pages for i in p]
    assert len(seen) == total and len(set(seen)) == total, (len(seen), len(set(seen)), total)
    assert "(end)" in c.find("#episode-range").text
    assert len(pages) >= 3, len(pages)
    # Newer: back to the page before, the same episodes.
    assert c.turn("#prev-page", f"{(len(pages) - 2) * size + 1}–") == pages[-2]
    # The browser's back button: the last page again, still with Newer.
    c.d.back()
    c.text_appears("#episode-range", "(end)")
    assert c.listed_ids() == pages[-1]
    c.turn("#prev-page", f"{(len(pages) - 2) * size + 1}–")
    # A reload there: the same episodes, and a way to the newest.
    c.d.refresh()
    c.text_appears("#episode-range", "from the page opened")
    assert c.listed_ids() == pages[-2]
    assert c.turn("#first-page", f"1–{size}") == pages[0]
    # A filter starts again from the first page.
    c.turn("#next-page", f"{size + 1}–")
    c.find("#f-domain").send_keys("infra")
    c.find("#apply-filters").click()
    c.text_appears("#episode-range", "1–")
    assert not c.d.find_elements(By.CSS_SELECTOR, "#prev-page")


def main():
    binary = os.path.abspath(sys.argv[1])
    shots = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "target/dashboard-screenshots")
    os.makedirs(shots, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="memory-dashboard-")
    db = os.path.join(tmp, "memory.db")
    episodes, running, first = fill_store(binary, db)
    proc, base = start_server(binary, db)
    driver = None
    started = time.monotonic()
    try:
        # Without the session cookie: the API refuses, the page sends to the sign-in form.
        code, _ = status(f"{base}/api/overview")
        assert code == 401, code
        driver = browser()
        c = Check(driver, shots)
        c.base = base
        driver.get(f"{base}/")
        c.find("#token")
        assert driver.current_url.endswith("/login"), driver.current_url
        c.console_clean("/login")
        c.shot("0-sign-in")
        c.find("#token").send_keys("not-the-token-at-all")
        c.find("#sign-in").click()
        c.text_appears(".error", "not one this server accepts")
        driver.get_log("browser")  # the 401 of the wrong token is expected
        c.find("#token").send_keys(TOKEN)
        c.find("#sign-in").click()

        # The cookie: HttpOnly (not visible to scripts), and no key to /mcp or /metrics.
        c.find(".ns-card")
        # Named after the server's port: two dashboards on one host keep their own sessions.
        name = f"memory_session_{base.rsplit(':', 1)[1]}"
        cookie = driver.get_cookie(name)
        assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie
        assert driver.execute_script("return document.cookie") == ""
        jar = {"Cookie": f"{name}={cookie['value']}", "Host": base[len("http://"):]}
        assert status(f"{base}/api/overview", jar)[0] == 200
        assert status(f"{base}/metrics", jar)[0] == 401
        assert status(f"{base}/mcp", {**jar, "Content-Type": "application/json",
                                      "Accept": "application/json, text/event-stream"},
                      "POST", b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}')[0] == 401

        # Overview: the namespace's counts and the store.
        card = c.find(".ns-card")
        total = len(episodes) + 1
        assert f"{total} episodes" in card.text.replace("\n", " "), card.text
        c.text_appears("main", "Store")
        c.text_appears("main", "Recent episodes")
        # Every namespace of the store, for a token that may read them all.
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".ns-card h2 a")]
        assert names == ["default", "ops"], names
        c.console_clean("overview")
        c.shot("1-overview")

        # Episodes: the list, then filters and search narrow it.
        c.page(base, "episodes", "#episode-list tbody tr")
        assert c.rows("#episode-list") == total, c.rows("#episode-list")
        c.shot("2-episodes")
        infra = sum(1 for e in episodes if e["context"].get("domain") == "infra") + 1
        c.find("#f-domain").send_keys("infra")
        c.find("#apply-filters").click()
        c.wait.until(lambda d: c.rows("#episode-list") == infra)
        Select(c.find("#f-outcome")).select_by_value("success")
        c.find("#apply-filters").click()
        c.wait.until(lambda d: 0 < c.rows("#episode-list") < infra)
        c.page(base, "episodes", "#f-q")
        c.find("#f-q").send_keys("Terraform")
        c.find("#apply-filters").click()
        c.wait.until(lambda d: "Search results" in d.find_element(By.CSS_SELECTOR, "main").text)
        n = c.rows("#episode-list")
        assert 0 < n < total, n
        assert "Terraform" in c.find("#episode-list").text
        c.console_clean("episodes")
        c.shot("3-episodes-search")
        page_walk(c, total, 5)
        c.console_clean("episodes paged")

        # An episode: timeline, reward, reflection, relationships.
        c.page(base, f"episode/{first}", "#timeline li")
        text = c.find("main").text
        for part in ("Reward", "Reflection", "Relationships", "follows", "depends_on", "Patterns it fed"):
            assert part in text, part
        c.find("#timeline details summary").click()
        c.console_clean("episode")
        c.shot("4-episode")
        c.page(base, f"episode/{running}", "main h1")
        c.text_appears("main", "rollout paused")
        c.console_clean("running episode")

        # The graph around it.
        c.page(base, f"graph/{first}", "svg#graph .node")
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg#graph .node")) == 3
        c.console_clean("graph")
        c.shot("5-graph")

        # The namespace's graph (no episode chosen), from the navigation bar: its
        # relationships and the episodes they join, each a link to its episode.
        c.find("#whole-namespace").click()
        c.text_appears("#graph-summary", "3 episodes, 2 relationships")
        nodes = driver.find_elements(By.CSS_SELECTOR, "svg#graph a.node")
        assert len(nodes) == 3, len(nodes)
        hrefs = [n.get_dom_attribute("href") for n in nodes]
        assert any(first in h for h in hrefs), hrefs
        c.console_clean("namespace graph")
        c.shot("5-graph-namespace")
        node = next(n for n in nodes if first in n.get_dom_attribute("href"))
        node.find_element(By.CSS_SELECTOR, "circle").click()
        c.wait.until(lambda d: f"#/episode/{first}" in d.current_url)
        c.find("#timeline li")
        c.page(base, "graph?ns=ops", "p#graph")
        assert "No relationship" in c.find("p#graph").text
        c.page(base, "overview?ns=default", ".ns-card")
        driver.find_element(By.CSS_SELECTOR, '#nav a[data-page="graph"]').click()
        c.find("svg#graph a.node")
        c.console_clean("namespace graph (nav)")

        # Patterns and heuristics, sortable.
        c.page(base, "patterns", "#pattern-list tbody tr")
        assert c.rows("#pattern-list") > 0
        Select(c.find("#order")).select_by_value("support")
        c.wait.until(lambda d: "order=support" in d.current_url)
        c.find("#pattern-list tbody tr")
        c.console_clean("patterns")
        c.shot("6-patterns")

        # Playground: the pack and the explain table; no session stored.
        c.page(base, "playground", "#p-task")
        c.find("#p-task").send_keys("Kubernetes pods crash after a config change")
        c.find("#p-domain").send_keys("infra")
        c.find("#retrieve").click()
        c.find("#pack-markdown")
        assert len(c.find("#pack-markdown").text) > 50
        assert c.rows("#explain") > 0
        c.console_clean("playground")
        c.shot("7-playground")
        driver.execute_script("document.getElementById('explain').scrollIntoView()")
        c.shot("7-playground-explain")

        # Performance: tables and charts, refreshed.
        c.page(base, "performance", "svg.chart")
        c.text_appears("main", "Operations")
        c.text_appears("main", "Write queue")
        time.sleep(5.5)
        c.find("svg.chart")
        c.console_clean("performance")
        c.shot("8-performance")

        # Delete: only after a confirmation, with the CSRF token; the list loses it.
        c.page(base, f"episode/{running}", "#delete")
        c.find("#delete").click()
        c.find("#confirm-delete").click()
        c.wait.until(lambda d: "#/episodes" in d.current_url)
        c.find("#episode-list tbody tr")
        c.wait.until(lambda d: c.rows("#episode-list") == total - 1)
        c.console_clean("delete")

        # A phone-sized window.
        driver.set_window_size(390, 844)
        c.page(base, "overview", ".ns-card")
        c.console_clean("overview (phone)")
        c.shot("9-overview-phone")
        driver.set_window_size(1280, 1000)

        # Sign out: the cookie no longer opens anything.
        c.page(base, "overview", "#logout button").click()
        c.find("#token")
        assert status(f"{base}/api/overview", jar)[0] == 401
        print(f"dashboard browser test: ok ({time.monotonic() - started:.1f} s; "
              f"screenshots in {shots})")
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
