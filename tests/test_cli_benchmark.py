import json

from tests.conftest import gradient_rgb, write


def test_benchmark_writes_a_report_with_every_section(tmp_path, cli, baseline_ckpt):
    for i in range(3):
        write(tmp_path / "gt" / f"c{i}.jpg", gradient_rgb(24, 40, seed=i))
    out = tmp_path / "report"
    res = cli(
        "benchmark", tmp_path / "gt", "-m", baseline_ckpt, "-o", out,
        "--repeats", "1", "--batch-size", "1", "--batch-size", "2", "--sheet", "2", "--json", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["images"] == 3 and "speed (median" not in res.stderr  # --json -q: no table
    md = (out / "report.md").read_text()
    for section in (
        "## Quality",
        "## Speed and size",
        "## Contact sheet",
        "Machine:",
        "protocol: full resolution",
        "GFLOP/s (batch 1)",
        "end-to-end / model-only (batch 2)",
    ):
        assert section in md, section
    for png in ("contact_sheet.png", "quality_vs_speed.png", "distributions.png"):
        assert (out / png).stat().st_size > 1000, png
    report = json.loads((out / "report.json").read_text())
    mine = f"{baseline_ckpt.parent.name}/baseline"  # a checkpoint, not the shipped baseline
    assert report["images"] == 3 and set(report["quality"]) == {"gray", mine}
    speed = {s["model"]: s for s in report["speed"]}
    assert set(speed) == {mine}  # gray has no network to time
    speed["baseline"] = speed[mine]
    low, high = speed["baseline"]["model_ms_range"]["1"]
    assert low <= speed["baseline"]["model_ms_per_image"]["1"] <= high
    printed = cli("benchmark", tmp_path / "gt", "-m", baseline_ckpt, "-o", tmp_path / "r2", "--repeats", "2",
                  "--batch-size", "1", "--sheet", "0")  # fmt: skip
    assert printed.exit_code == 0 and "speed (median, min-max of the repeats)" in printed.stderr
    assert speed["baseline"]["parameters"] == 231_682
    assert set(speed["baseline"]["model_ms_per_image"]) == {"1", "2"}
    assert speed["baseline"]["gflops_per_image"] > 0 and speed["baseline"]["peak_rss_mb"] > 0
    assert all(v > 0 for v in speed["baseline"]["end_to_end_images_per_second"].values())
    from bwcolor.quality.benchmark import SpeedResult

    s = SpeedResult("m", (8, 8), 1, 1, gflops_per_image=2.0, model_ms_per_image={1: 20.0},
                    end_to_end_images_per_second={1: 40.0})  # fmt: skip
    assert s.gflops_per_second(1) == 100.0 and s.end_to_end_share(1) == 0.8  # 40 of 50 images/s


def test_busy_machines_and_scattered_repeats_are_warned_about(monkeypatch):
    import os

    from bwcolor.quality import benchmark
    from bwcolor.quality.benchmark import SpeedResult, speed_warnings

    quiet = SpeedResult(
        "m", (8, 8), 1, 1, 1.0, model_ms_range={1: (10.0, 11.0)}, end_to_end_range={1: (5.0, 5.5)}
    )
    assert speed_warnings(quiet) == []
    busy = SpeedResult("m", (8, 8), 1, 1, 1.0, load_average=4.0 * (os.cpu_count() or 1))
    assert "the machine was busy" in speed_warnings(busy)[0]
    scattered = SpeedResult("m", (8, 8), 1, 1, 1.0, model_ms_range={1: (47.0, 1641.0)})
    assert "repeats differ up to 34.9x" in speed_warnings(scattered)[0]
    assert benchmark.load_average() >= 0


def test_a_batch_size_below_one_is_a_usage_error(tmp_path, cli):
    write(tmp_path / "gt" / "c.jpg", gradient_rgb(24, 40))
    for size in ("0", "-1"):
        res = cli("benchmark", tmp_path / "gt", "-m", "gray", "-o", tmp_path / "r", "--batch-size", size)
        assert res.exit_code == 2 and "--batch-size" in res.output, res.output
    assert not (tmp_path / "r").exists()


def test_the_contact_sheet_has_one_cell_size_for_portrait_and_landscape_rows(tmp_path):
    from bwcolor import load_model
    from bwcolor.quality.report import CELL_WIDTH, LABEL_HEIGHT, TILE_HEIGHT, contact_sheet

    write(tmp_path / "portrait.png", gradient_rgb(60, 20))
    write(tmp_path / "landscape.png", gradient_rgb(20, 60, seed=1))
    models = {"gray": load_model("gray"), "baseline": load_model("baseline")}
    sheet = contact_sheet([tmp_path / "portrait.png", tmp_path / "landscape.png"], models)
    cell_w, cell_h = CELL_WIDTH + 4, TILE_HEIGHT + LABEL_HEIGHT + 4
    assert sheet.shape == (2 * cell_h, 3 * cell_w, 3)  # input, baseline, truth; no row narrower
    portrait_row = sheet[LABEL_HEIGHT : cell_h - 4]
    assert (portrait_row[:, : CELL_WIDTH // 4] == 255).all()  # centred: white beside a portrait
    assert not (sheet[cell_h + LABEL_HEIGHT : 2 * cell_h - 4, :CELL_WIDTH] == 255).all()
