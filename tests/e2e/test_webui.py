"""The chat page at / (src/server/webui/): served with a strict CSP, off with --no-webui, and
driven in a real browser -- headless Chromium (Debian's chromium + chromium-driver) through
selenium -- against `parley serve` on the tiny random models: send and see the streamed
reply, reload and find the conversation, rename, regenerate, edit-and-branch, stop
mid-stream, continue, export and import, a wrong API key's 401 shown inline and retried, the
markdown renderer's safety, and screenshots at phone and desktop widths (saved under
$PARLEY_ARTIFACTS, default build/webui-screenshots/).

The browser tests skip when chromium, chromedriver or selenium is missing, except under CI
(CI=true), where they fail instead. They take about 20-40 s together.

The tiny models' replies are blank lines, so those tests follow the text by its length
(data-chars); a test with the default model (SmolLM2, skipped when its file is missing)
checks the words on the page and takes the screenshots with a real answer."""
import glob
import json
import os
import re
import shutil
import time

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM = True
except ImportError:
    SELENIUM = False

ARTIFACTS = os.environ.get("PARLEY_ARTIFACTS", os.path.join(ROOT, "build", "webui-screenshots"))
WAIT_S = 30


# ---- without a browser ----------------------------------------------------------------

def test_page_is_public_and_carries_a_strict_csp(tiny_model, start_server):
    s = start_server(tiny_model, "-c", "512", "-t", "1", api_key="sekret")
    page = s.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert '<script type="module" src="/app.js">' in page.text
    for path, kind in [("/app.js", "text/javascript"), ("/app.css", "text/css"), ("/markdown.js", "text/javascript")]:
        r = s.get(path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), path
        assert r.headers["Content-Security-Policy"] == csp
    # The page is public; the API behind it is not.
    assert s.get("/v1/models").status_code == 401
    assert "chat page: http://" in s.log_text()


def test_no_webui_turns_the_page_off(tiny_model, start_server):
    s = start_server(tiny_model, "-c", "512", "-t", "1", "--no-webui")
    for path in ["/", "/app.js", "/app.css"]:
        r = s.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"
    assert s.get("/health").status_code == 200
    assert "chat page" not in s.log_text()


# ---- in a browser ---------------------------------------------------------------------

@pytest.fixture
def browser(tmp_path):
    missing = [name for name, ok in [("chromium", CHROMIUM), ("chromedriver (chromium-driver)", CHROMEDRIVER),
                                     ("selenium", SELENIUM)] if not ok]
    if missing:
        message = f"the browser tests need {', '.join(missing)} (scripts/setup.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions", "--force-color-profile=srgb"]:
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_script_timeout(WAIT_S)
    driver.downloads = downloads
    yield driver
    # CSP violations and script errors show in the console: none is allowed.
    errors = [e["message"] for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and " 401 " not in e["message"]]
    driver.quit()
    assert not errors, errors


def wait(driver, predicate, what, timeout=WAIT_S):
    # The page re-renders a message list as replies stream and finish: an element found in
    # one poll may be replaced before the predicate reads it. That poll just retries.
    from selenium.common.exceptions import StaleElementReferenceException
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: predicate(d), message=what)


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def load(driver, url):
    driver.get(url)
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", "page ready")


def settings(driver, **fields):
    driver.find_element(By.ID, "open-settings").click()
    for key, value in fields.items():
        box = driver.find_element(By.ID, "set-" + key.replace("_", "-"))
        box.clear()
        box.send_keys(str(value))
    driver.find_element(By.ID, "settings-save").click()


def send(driver, text):
    box = driver.find_element(By.ID, "input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def replies(driver):
    return css(driver, "#messages .msg.assistant")


def wait_idle(driver, count):
    """Waits until `count` replies are shown, none streaming; returns them."""
    wait(driver, lambda d: len(replies(d)) == count and not css(d, ".msg.streaming")
         and all(r.get_attribute("data-finish") for r in replies(d)), f"{count} finished replies")
    return replies(driver)


def visible_text(element):
    return element.find_element(By.CSS_SELECTOR, ".msg-body").text.strip()


def chat_id(driver):
    return driver.execute_script("return location.hash.slice(1)")


def shot(driver, name, width, height):
    driver.execute_script("document.getElementById('toast').hidden = true")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    time.sleep(0.3)
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    assert driver.save_screenshot(path), path
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def test_chat_in_a_browser(tiny_model, start_server, browser):
    s = start_server(tiny_model, "-c", "2048", "-t", "1")
    d = browser
    load(d, s.url + "/")
    assert css(d, "#server-status.ok") and d.find_element(By.ID, "server-status").text == os.path.basename(
        tiny_model)[:-5]
    settings(d, max_tokens=60)

    # Send (Enter; Shift+Enter is a new line), see the streamed reply and its figures; the
    # list gets the title.
    d.find_element(By.ID, "input").send_keys("Hello", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "there")
    assert not css(d, ".msg")
    send(d, "")
    first = wait_idle(d, 1)[0]
    assert css(d, ".msg.user .msg-body")[0].text == "Hello\nthere"
    assert first.get_attribute("data-finish") == "length"
    assert int(first.get_attribute("data-chars")) > 0  # (the tiny model's text is mostly blank lines)
    figures = first.find_element(By.CSS_SELECTOR, ".figures").text
    # (tok/s only shows when the tokens did not all come in one burst: the SmolLM2 test checks it)
    assert re.search(r"TTFT \d+ ms", figures) and "60 generated" in figures, figures
    conv = chat_id(d)
    assert [e.text for e in css(d, "#conv-list .conv-title")] == ["Hello there"]  # spaces for newlines
    # Every request carried the conversation id as X-Session-Id (the access log shows it).
    assert re.search(rf"POST /v1/chat/completions 200 session={conv} ", s.log_text())

    # A second turn reuses the first one's cached prompt.
    send(d, "And again")
    second = wait_idle(d, 2)[1]
    m = re.search(r"prompt (\d+) tokens, (\d+) cached", second.find_element(By.CSS_SELECTOR, ".figures").text)
    assert m and 0 < int(m.group(2)) < int(m.group(1)), second.text

    # Reload: the conversation comes back, and from the list too.
    d.refresh()
    load(d, d.current_url)
    assert len(wait_idle(d, 2)) == 2
    d.find_element(By.ID, "new-chat").click()
    assert not replies(d)
    d.find_element(By.CSS_SELECTOR, "#conv-list .conv-title").click()
    wait_idle(d, 2)

    # Rename.
    d.find_element(By.CSS_SELECTOR, "#conv-list .conv-rename").click()
    box = d.find_element(By.CSS_SELECTOR, ".conv-rename-input")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Greetings" + Keys.ENTER)
    wait(d, lambda d: [e.text for e in css(d, "#conv-list .conv-title")] == ["Greetings"], "renamed")

    # Regenerate: a second version of the last reply; the first stays reachable.
    old_chars = replies(d)[1].get_attribute("data-chars")
    replies(d)[1].find_element(By.CSS_SELECTOR, ".regenerate").click()
    last = wait_idle(d, 2)[1]
    assert last.find_element(By.CSS_SELECTOR, ".branch-pos").text == "2/2"
    last.find_element(By.CSS_SELECTOR, ".branch-prev").click()
    last = wait_idle(d, 2)[1]
    assert last.find_element(By.CSS_SELECTOR, ".branch-pos").text == "1/2"
    assert last.get_attribute("data-chars") == old_chars

    # Edit the first message and branch: the later turns go to the old branch, still reachable.
    d.find_elements(By.CSS_SELECTOR, ".msg.user .edit")[0].click()
    area = d.find_element(By.CSS_SELECTOR, ".edit-input")
    area.clear()
    area.send_keys("Hello, edited" + Keys.ENTER)
    wait_idle(d, 1)
    users = css(d, ".msg.user")
    assert [u.find_element(By.CSS_SELECTOR, ".msg-body").text for u in users] == ["Hello, edited"]
    assert users[0].find_element(By.CSS_SELECTOR, ".branch-pos").text == "2/2"
    users[0].find_element(By.CSS_SELECTOR, ".branch-prev").click()
    wait_idle(d, 2)
    assert [u.find_element(By.CSS_SELECTOR, ".msg-body").text for u in css(d, ".msg.user")] == \
        ["Hello\nthere", "And again"]

    # Stop mid-stream, in a new chat: a long reply, read slowly (the browser's network is
    # throttled), stopped once text has come. What came stays, and can be continued.
    d.find_element(By.ID, "new-chat").click()
    settings(d, max_tokens=1800)
    d.set_network_conditions(offline=False, latency=5, download_throughput=40 * 1024, upload_throughput=1 << 20)
    send(d, "Tell me everything")
    wait(d, lambda d: css(d, ".msg.assistant.streaming") and int(replies(d)[0].get_attribute("data-chars")) > 20,
         "streaming text")
    d.find_element(By.ID, "stop").click()
    stopped = wait_idle(d, 1)[0]
    d.delete_network_conditions()
    assert stopped.get_attribute("data-finish") == "stopped"
    kept = int(stopped.get_attribute("data-chars"))
    assert 20 < kept < 1800, kept
    assert "stopped" in stopped.find_element(By.CSS_SELECTOR, ".figures").text
    assert d.find_element(By.ID, "send").is_displayed()
    settings(d, max_tokens=30)
    stopped.find_element(By.CSS_SELECTOR, ".continue").click()
    cont = wait_idle(d, 1)[0]
    assert int(cont.get_attribute("data-chars")) > kept and cont.get_attribute("data-finish") == "length"
    stop_conv = chat_id(d)
    d.refresh()
    load(d, d.current_url)
    assert chat_id(d) == stop_conv and int(wait_idle(d, 1)[0].get_attribute("data-chars")) > kept

    shot(d, "webui-tiny-1280x800.png", 1280, 800)
    shot(d, "webui-tiny-390x844.png", 390, 844)

    # Export everything, delete a chat, import the file: it is back, branches and all.
    d.find_element(By.ID, "export").click()
    wait(d, lambda d: glob.glob(str(d.downloads / "*.json")), "the export file")
    path = glob.glob(str(d.downloads / "*.json"))[0]
    wait(d, lambda d: os.path.getsize(path) > 0 and not glob.glob(str(d.downloads / "*.crdownload")), "download done")
    with open(path) as f:
        data = json.load(f)
    assert data["format"] == "parley-webui" and len(data["conversations"]) == 2
    greetings = next(c for c in data["conversations"] if c["id"] == conv)
    assert greetings["title"] == "Greetings" and len(greetings["messages"]) == 7  # 2 turns, 1 regenerated, 1 edited turn
    entry = next(li for li in css(d, "#conv-list .conv") if li.get_attribute("data-id") == conv)
    delete = entry.find_element(By.CSS_SELECTOR, ".conv-delete")
    ActionChains(d).move_to_element(entry).perform()  # its buttons show on hover
    delete.click()
    delete.click()  # the second click confirms
    wait(d, lambda d: len(css(d, "#conv-list .conv")) == 1, "deleted")
    d.find_element(By.ID, "import-file").send_keys(path)
    wait(d, lambda d: len(css(d, "#conv-list .conv")) == 2, "imported")
    next(li for li in css(d, "#conv-list .conv") if li.get_attribute("data-id") == conv) \
        .find_element(By.CSS_SELECTOR, ".conv-title").click()
    assert len(wait_idle(d, 2)) == 2
    assert css(d, ".msg.user")[0].find_element(By.CSS_SELECTOR, ".branch-pos").text == "1/2"


def test_wrong_api_key_shows_401_inline_and_retry_keeps_the_chat(tiny_model, start_server, browser):
    s = start_server(tiny_model, "-c", "512", "-t", "1", api_key="right-key")
    d = browser
    load(d, s.url + "/")
    wait(d, lambda d: d.find_element(By.ID, "server-status").text == "API key needed", "key needed")
    settings(d, api_key="wrong-key", max_tokens=8)
    send(d, "Let me in")
    failed = wait_idle(d, 1)[0]
    err = failed.find_element(By.CSS_SELECTOR, ".msg-error").text
    assert "401" in err and "invalid API key" in err, err
    assert css(d, ".msg.user")[0].find_element(By.CSS_SELECTOR, ".msg-body").text == "Let me in"
    # The right key, then Retry: the reply comes and the error goes.
    settings(d, api_key="right-key")
    wait(d, lambda d: css(d, "#server-status.ok"), "server ok")
    failed.find_element(By.CSS_SELECTOR, ".retry").click()
    ok = wait_idle(d, 1)[0]
    assert ok.get_attribute("data-finish") == "length" and not ok.find_elements(By.CSS_SELECTOR, ".msg-error")
    # The key travelled in a header, never in a URL.
    assert "right-key" not in d.current_url and "right-key" not in s.log_text()


MARKDOWN = """# Title
Some **bold**, *italic*, `code` and a [link](https://example.org) and [bad](javascript:window.pwned=1).
<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>

```python
print("<b>hi</b>")
```

| a | b |
|---|---|
| 1 | 2 |

- one
- two
"""


def test_markdown_renders_text_never_html(tiny_model, start_server, browser):
    s = start_server(tiny_model, "-c", "512", "-t", "1")
    d = browser
    load(d, s.url + "/")
    result = d.execute_async_script("""
        const [source, done] = arguments;
        import('/markdown.js').then(({renderMarkdown}) => {
          const box = document.createElement('div');
          document.body.append(box);
          renderMarkdown(box, source);
          done({
            h: box.querySelectorAll('h3').length, strong: box.querySelectorAll('strong').length,
            em: box.querySelectorAll('em').length, code: box.querySelector('code.inline')?.textContent,
            links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            img: box.querySelectorAll('img, script').length, block: box.querySelector('pre code')?.textContent,
            copy: box.querySelectorAll('.code-block .copy').length, cells: box.querySelectorAll('td').length,
            items: box.querySelectorAll('li').length, text: box.textContent, pwned: window.pwned === 1,
          });
        });""", MARKDOWN)
    assert result["h"] == 1 and result["strong"] == 1 and result["em"] == 1 and result["code"] == "code"
    assert result["links"] == ["https://example.org"]
    assert result["img"] == 0 and not result["pwned"]
    assert '<img src=x onerror="window.pwned=1">' in result["text"]
    assert result["block"] == 'print("<b>hi</b>")' and result["copy"] == 1
    assert result["cells"] == 2 and result["items"] == 2


SMOL = os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.real_model
@pytest.mark.skipif(not os.path.exists(SMOL), reason=f"{SMOL} not found: run scripts/fetch_models.py")
def test_the_default_model_answers_on_the_page(start_server, browser):
    """Words on the page, markdown from a real model, and the screenshots (phone and desktop).
    With PARLEY_WEBUI_DOCS_SHOT=1 it also writes docs/webui.png, the README's picture."""
    s = start_server(None, "-c", "2048")
    d = browser
    load(d, s.url + "/")
    d.find_element(By.ID, "character-button").click()
    d.find_element(By.ID, "character-name").send_keys(Keys.CONTROL, "a")
    d.find_element(By.ID, "character-name").send_keys("Helper")
    d.find_element(By.ID, "character-system").send_keys("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    d.find_element(By.ID, "character-save").click()
    d.find_element(By.ID, "character-apply").click()
    settings(d, temperature=0, max_tokens=16)
    send(d, "What is the capital of France?")
    reply = wait_idle(d, 1)[0]
    assert "Paris" in visible_text(reply), visible_text(reply)
    assert reply.find_element(By.CSS_SELECTOR, ".who").text == "Helper"
    figures = reply.find_element(By.CSS_SELECTOR, ".figures").text
    assert re.search(r"TTFT \d+ ms · \d+\.\d tok/s · prompt \d+ tokens, 0 cached \(0%\)", figures), figures
    settings(d, max_tokens=160)
    send(d, "Write a Python function that reverses a string.")
    reply = wait_idle(d, 2)[1]
    assert visible_text(reply)
    m = re.search(r"prompt (\d+) tokens, (\d+) cached", reply.find_element(By.CSS_SELECTOR, ".figures").text)
    assert m and 0 < int(m.group(2)) < int(m.group(1)), reply.text
    shot(d, "webui-desktop-1280x800.png", 1280, 800)
    shot(d, "webui-phone-390x844.png", 390, 844)
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    shot(d, "webui-phone-390x844-dark.png", 390, 844)
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    if os.environ.get("PARLEY_WEBUI_DOCS_SHOT"):
        shutil.copy(os.path.join(ARTIFACTS, "webui-desktop-1280x800.png"), os.path.join(ROOT, "docs", "webui.png"))
