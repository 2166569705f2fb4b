"""Loads a page in headless Chromium over the DevTools protocol (pipe transport) and reports
every request the page made, the state of every <img>, and a full-page screenshot.
Layer: plot/tests helper; standard library only. Chromium's own background traffic (update and
account checks) belongs to no page, so only what the page itself fetched is reported.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio",
         # Nothing may leave the machine even if a page asks: every proxied fetch is refused.
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]

LOCAL_SCHEMES = ("data:", "file:", "about:", "blob:")

_IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => ({
  src: i.currentSrc.slice(0, 60), complete: i.complete, width: i.naturalWidth,
  height: i.naturalHeight, alt: i.alt, shown_width: i.getBoundingClientRect().width,
  top: i.getBoundingClientRect().top + window.scrollY})))"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """Newline-free JSON messages separated by NUL on fds 3 (to browser) and 4 (from it)."""

    def __init__(self, proc, to_browser, from_browser):
        self.proc, self.w, self.r = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m is None:
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self._read(deadline)
            if m is None:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(m)
            if m.get("method") == method:
                return m

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            m = self._read(deadline)
            if m is None:
                return
            self.events.append(m)

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe (crashed?)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)


def _start(exe, user_data_dir, width):
    """Starts chromium with its DevTools protocol on fds 3 (to it) and 4 (from it)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()

    def child_fds():
        # Copy first: the pipe ends may themselves be fds 3 or 4, and dup2 onto itself would
        # leave close-on-exec set.
        r, w = os.dup(to_r), os.dup(from_w)
        os.dup2(r, 3)
        os.dup2(w, 4)

    proc = subprocess.Popen(
        [exe, *FLAGS, f"--user-data-dir={user_data_dir}", "--remote-debugging-pipe",
         f"--window-size={width},900", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=child_fds, close_fds=False)
    os.close(to_r)
    os.close(from_w)
    return _Pipe(proc, to_w, from_r)


def _navigate(pipe, url, width, timeout):
    """A new tab at `width` px that has loaded url (and a quiet second); returns its session."""
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
    session = pipe.send("Target.attachToTarget",
                        {"targetId": target["targetId"], "flatten": True})["sessionId"]
    pipe.send("Network.enable", session=session)
    pipe.send("Page.enable", session=session)
    pipe.send("Emulation.setDeviceMetricsOverride",
              {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
              session=session)
    pipe.events.clear()
    pipe.send("Page.navigate", {"url": url}, session=session)
    pipe.wait_event("Page.loadEventFired", timeout=timeout)
    pipe.drain(1.0)  # late fetches (lazy images, CSS imports) land here
    return session


def _screenshot(pipe, session, path, width, timeout):
    """Writes a full-page PNG (up to 30000 px tall) to path."""
    size = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = pipe.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 30000),
                 "scale": 1}}, session=session, timeout=timeout)
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def load(url, user_data_dir, screenshot=None, width=1400, timeout=60):
    """Opens url, waits for load and a short quiet period, returns a dict:

    requests: every URL the page requested; external: those not data:/file:/about:/blob:;
    failed: URLs whose loading failed; images: [{src, complete, width, height}];
    text: the page's visible text; scripts: how many <script> elements the page has.
    Writes a full-page PNG to `screenshot` when given.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed")
    pipe = _start(exe, user_data_dir, width)
    try:
        session = _navigate(pipe, url, width, timeout)
        images = json.loads(pipe.send("Runtime.evaluate",
                                      {"expression": _IMAGES_JS, "returnByValue": True},
                                      session=session)["result"]["value"])
        page = pipe.send("Runtime.evaluate", {
            "expression": "JSON.stringify({text: document.body.innerText, "
                          "scripts: document.scripts.length})",
            "returnByValue": True}, session=session)["result"]["value"]
        page = json.loads(page)
        if screenshot:
            _screenshot(pipe, session, screenshot, width, timeout)
        requests = [e["params"]["request"]["url"] for e in pipe.events
                    if e.get("method") == "Network.requestWillBeSent"
                    and e.get("sessionId") == session]
        ids = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in pipe.events
               if e.get("method") == "Network.requestWillBeSent"}
        failed = [ids.get(e["params"]["requestId"], "?") for e in pipe.events
                  if e.get("method") == "Network.loadingFailed"]
        try:
            pipe.send("Browser.close", timeout=10)
        except (TimeoutError, RuntimeError):
            pass
        return {"requests": requests,
                "external": [u for u in requests if not u.startswith(LOCAL_SCHEMES)],
                "failed": failed, "images": images, "text": page["text"],
                "scripts": page["scripts"]}
    finally:
        os.close(pipe.w)
        os.close(pipe.r)
        try:
            pipe.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pipe.proc.kill()
            pipe.proc.wait()
