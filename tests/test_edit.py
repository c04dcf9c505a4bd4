"""`bwcolor edit`: the server's API (token, paths, limits, saving like colorize) and the page in a
real headless browser (Debian's chromium through Playwright; skipped where either is missing)."""

import base64
import http.client
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from bwcolor.edit.server import MAX_BODY, EditServer
from bwcolor.edit.session import open_session
from bwcolor.files.decode import read_image
from bwcolor.files.hints import read_hints
from tests.conftest import gradient_rgb, gray_of, tree_hashes, write

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("edit")
    gray = gray_of(gradient_rgb(120, 160, 5))
    gray[:, 80:] = np.clip(gray[:, 80:].astype(int) + 60, 0, 255)  # a lightness edge down the middle
    write(root / "in" / "a.png", gray)
    write(root / "in" / "sub" / "b.jpg", gray_of(gradient_rgb(90, 70, 6)))
    return root


@pytest.fixture(scope="module")
def server(photos):
    session = open_session([photos / "in"], photos / "out", "effnet_unet")
    srv = EditServer(session)
    thread = srv.serve_in_thread()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def request(srv, method, path, body=None, token=True, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=60)
    head = {"X-Bwcolor-Token": srv.token} if token else {}
    head |= headers or {}
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=head)
    resp = conn.getresponse()
    out = resp.status, resp.getheader("Content-Type"), resp.read()
    conn.close()
    return out


def test_every_request_needs_the_token_and_this_host(server):
    assert request(server, "GET", "/api/photos", token=False)[0] == 403
    assert request(server, "GET", "/api/photos", headers={"X-Bwcolor-Token": "guess"})[0] == 403
    assert request(server, "GET", "/", token=False)[0] == 403
    status, _, body = request(server, "GET", f"/?token={server.token}", token=False)
    assert status == 200 and f"edit.js?token={server.token}".encode() in body
    assert (
        request(server, "GET", "/api/photos", headers={"Host": f"evil.example:{server.server_port}"})[0]
        == 403
    )
    status, _, body = request(server, "GET", "/api/photos")
    assert status == 200 and json.loads(body) == {"photos": ["a.png", str(Path("sub") / "b.jpg")]}


@pytest.mark.parametrize(
    "path", ["/../../etc/passwd", "/api/photo/2", "/api/photo/0/../../x", "/%2e%2e/%2e%2e/etc/passwd",
             "/edit.html", "/api/photo/-1", "/api/photo/0/gray.png", "/api/photo/99999999999"],
)  # fmt: skip
def test_nothing_outside_its_page_and_photos_is_served(server, path):
    status, kind, body = request(server, "GET", path)
    assert status == 404 and kind == "application/json" and b"root:" not in body


def test_malformed_requests_get_one_error_reply_and_the_server_goes_on(server):
    cases = [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"points": "x"}).encode(), 400, "points must be a list"),
        (
            json.dumps({"points": [{"x": 999, "y": 1, "color": "#ffffff"}]}).encode(),
            400,
            "outside the 160x120 photo",
        ),
        (json.dumps({"points": [{"x": 1, "y": 1, "color": "red"}]}).encode(), 400, "not #rrggbb"),
        (json.dumps({"strokes": "%%%"}).encode(), 400, "not base64"),
    ]
    for body, status, cause in cases:
        got, _, reply = request(server, "POST", "/api/photo/0/preview", body)
        assert (got, cause in json.loads(reply)["error"]) == (status, True), reply
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    conn.putrequest("POST", "/api/photo/0/preview")
    conn.putheader("X-Bwcolor-Token", server.token)
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert request(server, "POST", "/api/photo/0/suggest", {"x": "1", "y": 2})[0] == 400
    assert request(server, "GET", "/api/photo/0/save")[0] == 405
    assert request(server, "GET", "/api/photos")[0] == 200  # still serving


def test_suggestions_and_previews(server):
    status, _, body = request(server, "POST", "/api/photo/0/suggest", {"x": 40, "y": 60})
    colours = json.loads(body)["colours"]
    assert status == 200 and 2 <= len(colours) <= 6 and colours[0]["p"] is None
    assert all(c["color"].startswith("#") and len(c["color"]) == 7 for c in colours)
    probs = [c["p"] for c in colours[1:]]
    assert probs == sorted(probs, reverse=True)
    _, kind, auto = request(server, "POST", "/api/photo/0/preview", {"points": []})
    _, _, hinted = request(
        server, "POST", "/api/photo/0/preview", {"points": [{"x": 40, "y": 60, "color": "#1f4e9a"}]}
    )
    assert kind == "image/jpeg"
    a, h = (cv2.imdecode(np.frombuffer(x, np.uint8), cv2.IMREAD_COLOR) for x in (auto, hinted))
    assert a.shape == (120, 160, 3) and np.abs(a.astype(int) - h).max() > 20


def test_saving_writes_the_hint_files_and_the_output_as_colorize_does(server, photos, cli):
    before = tree_hashes(photos / "in")
    strokes = np.zeros((120, 160, 4), np.uint8)
    strokes[20:30, 100:140] = (200, 40, 40, 255)
    png = base64.b64encode(cv2.imencode(".png", strokes[..., [2, 1, 0, 3]])[1].tobytes()).decode()
    points = [{"x": 40, "y": 60, "color": "#1f4e9a"}]
    status, _, body = request(
        server, "POST", "/api/photo/0/save", {"points": points, "strokes": png, "output": True}
    )
    saved = json.loads(body)
    assert status == 200, body
    assert saved["hint_files"] == [str(photos / "in" / "a.hints.json"), str(photos / "in" / "a.hints.png")]
    hints = read_hints([photos / "in" / "a.hints.json", photos / "in" / "a.hints.png"], 160, 120)
    assert [(p.x, p.y, p.color) for p in hints.points] == [(40, 60, "#1f4e9a")]
    assert (hints.strokes == strokes).all()
    assert Path(saved["output"]) == photos / "out" / "a.png"
    edited = read_image(saved["output"])
    assert edited.metadata.colorized_by() and edited.pixels.shape == (120, 160, 3)
    res = cli("colorize", photos / "in" / "a.png", "-o", photos / "again", "--json")  # the same colours
    assert res.exit_code == 0 and json.loads(res.stdout)["hinted"] == 1
    np.testing.assert_array_equal(read_image(photos / "again" / "a.png").pixels, edited.pixels)
    changed = {k for k in tree_hashes(photos / "in") if before.get(k) != tree_hashes(photos / "in")[k]}
    assert changed == {"a.hints.json", "a.hints.png"}  # the photos untouched
    request(server, "POST", "/api/photo/0/save", {"points": points, "strokes": None})
    assert not (photos / "in" / "a.hints.png").exists()  # strokes removed, points kept
    status, _, body = request(server, "GET", "/api/photo/0")
    assert json.loads(body)["points"][0]["color"] == "#1f4e9a"


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: the README's test set-up installs Debian's")
def test_the_page_in_a_real_browser(server, photos):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is a test dependency")
    for name in ("a.hints.json", "a.hints.png"):
        (photos / "in" / name).unlink(missing_ok=True)
    (photos / "out" / "a.png").unlink(missing_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector("body[data-previews='1']", timeout=60_000)
        assert page.inner_text("#name").startswith("a.png")
        before = page.evaluate("document.getElementById('view').toDataURL()")
        box = page.locator("#view").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        page.wait_for_selector(".swatch", timeout=30_000)
        page.locator(".swatch").nth(1).click()
        page.wait_for_selector("body[data-previews='2']", timeout=60_000)
        assert page.evaluate("document.getElementById('view').toDataURL()") != before
        assert page.locator("#hints li").count() == 1
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.click("#next")  # unsaved hints: the page asks, and staying keeps them
        assert dialogs and "not saved" in dialogs[0] and page.inner_text("#name").startswith("a.png")
        page.keyboard.press("Control+z")
        page.wait_for_selector("body[data-previews='3']", timeout=60_000)
        assert page.locator("#hints li").count() == 0
        page.keyboard.press("Control+y")
        page.wait_for_selector("body[data-previews='4']", timeout=60_000)
        where = page.inner_text("#hints li")
        x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y + 20, steps=4)  # drag the hint elsewhere
        page.mouse.up()
        page.wait_for_selector("body[data-previews='5']", timeout=60_000)
        assert page.inner_text("#hints li") != where
        page.click("#save")
        page.wait_for_selector("body[data-saved='1']", timeout=60_000)
        browser.close()
    assert not errors
    hints = read_hints([photos / "in" / "a.hints.json"], 160, 120)
    assert len(hints.points) == 1 and 0 < hints.points[0].x < 160
    assert read_image(photos / "out" / "a.png").metadata.colorized_by()


def test_the_command_refuses_what_it_cannot_edit(tmp_path, cli):
    res = cli("edit", tmp_path / "none", "--no-browser")
    assert res.exit_code == 2 and "nothing to edit" in res.output
    write(tmp_path / "a.png", gray_of(gradient_rgb(20, 20, 1)))
    res = cli("edit", tmp_path / "a.png", "-o", tmp_path / "x.png", "--no-browser")
    assert res.exit_code == 2 and "writes into a folder" in res.output


def test_ctrl_c_stops_the_server_cleanly(tmp_path, baseline_ckpt):
    import os
    import signal
    import subprocess
    import sys
    import time

    write(tmp_path / "a.png", gray_of(gradient_rgb(20, 20, 1)))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "sys.argv = ['bwcolor'] + sys.argv[1:]; from bwcolor.cli import run; run()",
         "edit", str(tmp_path / "a.png"), "-m", str(baseline_ckpt), "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    line = proc.stderr.readline().decode()  # the URL: the server is listening
    assert "?token=" in line, line
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "bwcolor edit: stopped" in rest.decode()
