"""Colour hints: the formats, the side-file rule, bad hint files, and hints kept where given."""

import json
import os

import numpy as np
import pytest
import torch

from bwcolor import create_model, lab, load_model
from bwcolor.files.decode import read_image
from bwcolor.files.hints import HintError, Hints, colour_ab, random_points, read_hints
from bwcolor.image.colorize import colorize_image, hint_channels, predict_ab
from bwcolor.image.propagate import STRENGTH, _system, propagate
from bwcolor.metrics import ciede2000
from tests.conftest import gradient_rgb, gray_of, tree_hashes, write

BLUE = "#1f4e9a"


def two_regions(h: int = 60, w: int = 80) -> np.ndarray:
    """A gray photo of two flat regions, left darker, split by a strong edge at the middle."""
    gray = np.full((h, w), 90, np.uint8)
    gray[:, w // 2 :] = 190
    return gray


def lab_of(rgb_u8: np.ndarray) -> np.ndarray:
    return lab.rgb_to_lab(rgb_u8.astype(np.float32) / 255)


# -- propagation ---------------------------------------------------------------------------------


def test_the_sparse_system_is_the_minimiser_of_the_energy():
    """The solve equals a dense least-squares minimisation of the documented energy."""
    rng = np.random.default_rng(0)
    h, w, edge, fade = 5, 6, 3.0, 1e-2
    lum = rng.uniform(20, 80, (h, w))
    weight = np.zeros((h, w))
    weight[1, 2], weight[3, 4] = 1.0, 0.4
    target = rng.normal(0, 20, (h, w))
    rows, rhs = [], []
    n = h * w
    for r in range(n):  # hints
        if weight.flat[r]:
            e = np.zeros(n)
            e[r] = np.sqrt(STRENGTH * weight.flat[r])
            rows.append(e)
            rhs.append(np.sqrt(STRENGTH * weight.flat[r]) * target.flat[r])
    for y in range(h):  # neighbours, right and down
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0)):
                if y + dy < h and x + dx < w:
                    a = np.exp(-((lum[y, x] - lum[y + dy, x + dx]) ** 2) / (2 * edge**2))
                    e = np.zeros(n)
                    e[y * w + x], e[(y + dy) * w + x + dx] = np.sqrt(a), -np.sqrt(a)
                    rows.append(e)
                    rhs.append(0.0)
    for r in range(n):  # screening
        e = np.zeros(n)
        e[r] = np.sqrt(fade)
        rows.append(e)
        rhs.append(0.0)
    dense = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    sparse = np.linalg.solve(
        _system(lum, weight, edge, fade).toarray(), STRENGTH * weight.ravel() * target.ravel()
    )
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-6)


def test_a_hint_colours_its_region_and_stops_at_a_strong_edge():
    lum = np.full((40, 60), 40.0, np.float32)
    lum[:, 30:] = 75.0
    auto = np.zeros((40, 60, 2), np.float32)
    auto[..., 0] = 12.0  # a warm automatic colour everywhere
    hint_ab, weight = np.zeros_like(auto), np.zeros((40, 60), np.float32)
    hint_ab[20, 10], weight[20, 10] = (-20.0, -35.0), 1.0
    out = propagate(lum, auto, hint_ab, weight)
    np.testing.assert_allclose(out[20, 10], (-20, -35), atol=0.05)
    np.testing.assert_allclose(out[5:35, 2:25], np.broadcast_to((-20, -35), (30, 23, 2)), atol=2.0)
    np.testing.assert_allclose(out[:, 31:], auto[:, 31:], atol=1e-3)  # across the edge: untouched


def test_no_hints_give_the_automatic_colour_itself():
    auto = np.random.default_rng(1).normal(0, 10, (16, 16, 2)).astype(np.float32)
    out = propagate(np.zeros((16, 16)), auto, np.zeros_like(auto), np.zeros((16, 16)))
    assert out is auto


# -- formats -------------------------------------------------------------------------------------


def test_points_and_strokes_are_read_and_rastered(tmp_path):
    (tmp_path / "p.hints.json").write_text(
        json.dumps({"points": [{"x": 10, "y": 5, "color": BLUE, "radius": 3}]})
    )
    strokes = np.zeros((40, 80, 4), np.uint8)
    strokes[30:34, 50:70] = (40, 160, 60, 255)  # a green stroke
    write(tmp_path / "p.hints.png", strokes)
    hints = read_hints([tmp_path / "p.hints.json", tmp_path / "p.hints.png"], 80, 40)
    assert len(hints.points) == 1 and hints.points[0].radius == 3
    ab, weight = hints.raster(40, 80)  # at full size
    np.testing.assert_allclose(ab[5, 10], colour_ab(BLUE), atol=1e-4)
    np.testing.assert_allclose(ab[31, 60], colour_ab((40, 160, 60)), atol=0.5)
    assert weight[5, 10] == 1 and weight[31, 60] == 1 and weight[20, 30] == 0
    ab, weight = hints.raster(10, 20)  # shrunk 4x: the point still covers its pixel
    assert weight[1, 2] == 1 and 0 < weight[7, 15] <= 1


def test_random_points_are_reproducible_and_nested():
    truth = gradient_rgb(50, 70, 3)
    few = random_points(truth, 3, np.random.default_rng(7))
    many = random_points(truth, 10, np.random.default_rng(7))
    assert few.points == many.points[:3]


BAD_FILES = [
    ("not JSON", "{nope", "not JSON"),
    ("not the schema", json.dumps([1, 2]), "not a hints file"),
    ("unknown key", json.dumps({"points": [], "colour": 1}), "unknown key 'colour'"),
    ("no colour", json.dumps({"points": [{"x": 1, "y": 1}]}), "point 1: no 'color'"),
    ("outside", json.dumps({"points": [{"x": 80, "y": 1, "color": BLUE}]}), "outside the 80x40 photo"),
    ("bad colour", json.dumps({"points": [{"x": 1, "y": 1, "color": "blue"}]}), "is not #rrggbb"),
    ("bad radius", json.dumps({"points": [{"x": 1, "y": 1, "color": BLUE, "radius": -2}]}), "not positive"),
    ("text x", json.dumps({"points": [{"x": "1", "y": 1, "color": BLUE}]}), "x '1' is not a number"),
]


@pytest.mark.parametrize(("case", "text", "cause"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_points_files_name_the_file_and_the_cause(tmp_path, case, text, cause):
    path = tmp_path / "p.hints.json"
    path.write_text(text)
    with pytest.raises(HintError) as info:
        read_hints([path], 80, 40)
    assert str(info.value).startswith(f"{path}: ") and cause in str(info.value)


def test_bad_strokes_files_name_the_file_and_the_cause(tmp_path):
    wrong_size = write(tmp_path / "a.hints.png", np.zeros((41, 80, 4), np.uint8))
    opaque = write(tmp_path / "b.hints.png", np.zeros((40, 80, 3), np.uint8))
    not_png = tmp_path / "c.hints.png"
    not_png.write_bytes(b"GIF89a....")
    for path, cause in ((wrong_size, "strokes are 80x41, the photo 80x40"), (opaque, "need transparency"),
                        (not_png, "not a readable PNG")):  # fmt: skip
        with pytest.raises(HintError, match=cause) as info:
            read_hints([path], 80, 40)
        assert str(info.value).startswith(str(path))


# -- colorizing with hints -----------------------------------------------------------------------


def test_hints_hold_where_given_and_spread_over_the_object_only():
    gray = two_regions()
    model = load_model("effnet_unet")
    auto = colorize_image(model, gray)
    hinted = colorize_image(model, gray, hints=[(15, 30, BLUE)])
    want = lab_of(gray[..., None].repeat(3, 2))
    want[..., 1:] = colour_ab(BLUE)
    out = lab_of(hinted)
    assert ciede2000(out[30, 15], want[30, 15]) < 3.0
    assert np.median(ciede2000(out[5:55, 3:37], want[5:55, 3:37])) < 3.0  # the whole left region
    far = ciede2000(out[:, 44:], lab_of(auto)[:, 44:])
    assert far.max() < 1.0  # the right region keeps its automatic colour
    np.testing.assert_array_equal(colorize_image(model, gray, hints=[]), auto)  # no hints: the same


def test_the_python_api_takes_strokes_and_refuses_bad_hints():
    gray = two_regions()
    model = create_model("gray")
    strokes = np.zeros((60, 80, 4), np.uint8)
    strokes[10:50, 60:64] = (200, 40, 40, 255)
    out = lab_of(colorize_image(model, gray, hints=strokes))
    assert out[30, 70, 1] > 20 and abs(out[30, 10, 1]) < 1  # red on the right only
    with pytest.raises(HintError, match="outside"):
        colorize_image(model, gray, hints=[(80, 0, BLUE)])
    with pytest.raises(HintError, match="the photo 80x60"):
        colorize_image(model, gray, hints=np.zeros((10, 10, 4), np.uint8))


def test_a_network_with_hint_inputs_is_given_them():
    torch.manual_seed(0)
    model = create_model("effnet_unet", hint_inputs=True, render_size=64).eval()
    for p in model.hint_encoders.parameters():  # as if trained: hints now change the output
        torch.nn.init.normal_(p, std=0.5)
    hints = Hints(64, 48, points=random_points(gradient_rgb(48, 64, 2), 5, np.random.default_rng(0)).points)
    channels = hint_channels([hints, None], 48, 64, model.normalisation)
    assert channels[0, 2].sum() > 0 and not channels[1].any()
    inputs = np.zeros((2, 48, 64), np.float32)
    out = predict_ab(model, inputs, channels)
    assert not np.allclose(out[0], out[1], atol=1e-3)  # the first was given hints
    np.testing.assert_allclose(out[1], predict_ab(model, inputs[1:])[0], atol=1e-4)


# -- the command line ----------------------------------------------------------------------------


def hinted_folder(root):
    write(root / "a.png", two_regions())
    write(root / "sub" / "b.png", two_regions())
    write(root / "c.png", two_regions())
    (root / "a.hints.json").write_text(json.dumps({"points": [{"x": 15, "y": 30, "color": BLUE}]}))
    strokes = np.zeros((60, 80, 4), np.uint8)
    strokes[20:40, 60:70] = (200, 40, 40, 255)
    write(root / "sub" / "b.hints.png", strokes)
    return root


def test_hint_files_beside_photos_are_used_in_folders_files_and_globs(tmp_path, cli):
    src = hinted_folder(tmp_path / "in")
    before = tree_hashes(src)
    for i, inputs in enumerate(
        ([src], [src / "a.png", src / "sub" / "b.png", src / "c.png"], [f"{src}/**/*.png"])
    ):
        out = tmp_path / f"out{i}"
        res = cli("colorize", *inputs, "-o", out, "-m", "gray", "--json")
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout)
        assert (summary["done"], summary["hinted"], summary["failed"]) == (3, 2, 0), res.output
        assert not list(out.rglob("*.hints.*"))  # a hint file is never taken as a photo
        a = lab_of(read_image(next(out.rglob("a.png"))).pixels)
        assert ciede2000(a[30, 15], np.array([a[30, 15, 0], *colour_ab(BLUE)])) < 3.0
        c = lab_of(read_image(next(out.rglob("c.png"))).pixels)
        assert np.abs(c[..., 1:]).max() < 1  # no hints: the gray model leaves it gray
    assert tree_hashes(src) == before


def test_bad_hint_files_fail_their_photo_alone_and_are_never_touched(tmp_path, cli):
    src = hinted_folder(tmp_path / "in")
    (src / "c.hints.json").write_text('{"points": [{"x": 500, "y": 1, "color": "#ffffff"}]}')
    (src / "lost.hints.json").write_text('{"points": []}')
    before, stamp = tree_hashes(src), os.stat(src / "c.hints.json").st_mtime_ns
    res = cli("colorize", src, "-o", tmp_path / "out", "-m", "gray")
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert any(line.startswith(f"bwcolor: error: {src / 'c.png'}: hint file {src / 'c.hints.json'}: point 1 at (500, 1) "
               "is outside the 80x60 photo; not colorized") for line in lines), res.output  # fmt: skip
    assert any(f"{src / 'lost.hints.json'}: a hint file without its photo" in line for line in lines)
    assert "Done: 2 colorized (2 with colour hints), 0 skipped (output exists), 1 failed" in res.output
    assert not (tmp_path / "out" / "c.png").exists()
    assert tree_hashes(src) == before and os.stat(src / "c.hints.json").st_mtime_ns == stamp
    res = cli("colorize", src, "-o", tmp_path / "out2", "-m", "gray", "--no-hints", "--json")
    assert json.loads(res.stdout)["hinted"] == 0 and res.exit_code == 0


def test_hints_option_for_one_photo_and_hint_files_named_as_inputs(tmp_path, cli):
    src = hinted_folder(tmp_path / "in")
    elsewhere = tmp_path / "my hints.json"
    elsewhere.write_text(json.dumps({"points": [{"x": 70, "y": 30, "color": BLUE}]}))
    res = cli("colorize", src / "c.png", "-o", tmp_path / "out", "-m", "gray", "--hints", elsewhere, "--json")
    assert json.loads(res.stdout)["hinted"] == 1, res.output
    for args, cause in (
        ((src, "--hints", elsewhere), "is for one photo; 3 inputs found"),
        ((src / "c.png", "--hints", tmp_path / "none.json"), "no such file"),
        ((src / "c.png", "--hints", elsewhere, "--no-hints"), "give one of them"),
    ):
        res = cli("colorize", *args, "-o", tmp_path / "out3", "-m", "gray")
        assert res.exit_code == 2 and cause in res.output, res.output
    res = cli("colorize", src / "a.hints.json", src / "a.png", "-o", tmp_path / "out4", "-m", "gray")
    assert res.exit_code == 1 and "a colour-hint file, not a photo" in res.output
    res = cli("colorize", src, "-o", tmp_path / "out5", "-m", "gray", "--dry-run")
    assert f"(with hints from {src / 'a.hints.json'})" in res.output


def test_evaluate_measures_with_hint_points(tmp_path, cli):
    for i in range(2):
        write(tmp_path / "truth" / f"{i}.png", gradient_rgb(48, 64, i))
    scores = {}
    for n in (0, 10):
        res = cli("evaluate", tmp_path / "truth", "-m", "gray", "--hint-points", n, "--json")
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        scores[n] = data["means"]["gray"]["ciede2000"]
    assert "10 hint points a photo (seed 0)" in data["protocol"]
    assert scores[10] < scores[0] - 2  # the gray model with hints is no longer gray


def test_a_film_with_a_hint_file_says_it_is_not_used(tmp_path, cli):
    from bwcolor.quality.synthetic import write_clip

    write_clip(
        tmp_path / "in" / "f.mp4",
        [gray_of(gradient_rgb(32, 48, i))[..., None].repeat(3, 2) for i in range(3)],
    )
    (tmp_path / "in" / "f.hints.json").write_text('{"points": []}')
    res = cli("colorize", tmp_path / "in", "-o", tmp_path / "out", "-m", "gray")
    assert res.exit_code == 0 and "f.hints.json not used: films take no colour hints yet" in res.output


def test_hints_follow_a_prediction_made_at_another_size():
    """A photo retried at half the render size (the network failed at its own) keeps its hints."""
    from bwcolor.files.hints import points_from
    from bwcolor.image.colorize import with_hints

    hints = Hints(80, 60, points=points_from([(10, 10, BLUE)], 80, 60))
    out = with_hints(
        np.zeros((64, 80), np.float32), np.zeros((24, 32, 2), np.float32), hints, lab.Normalisation()
    )
    assert out.shape == (24, 32, 2)
    np.testing.assert_allclose(out[4, 4], colour_ab(BLUE), atol=0.5)
