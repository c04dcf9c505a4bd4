import json

from tests.conftest import gradient_rgb, write


def test_benchmark_writes_a_report_with_every_section(tmp_path, cli, baseline_ckpt):
    for i in range(3):
        write(tmp_path / "gt" / f"c{i}.jpg", gradient_rgb(24, 40, seed=i))
    out = tmp_path / "report"
    res = cli(
        "benchmark", tmp_path / "gt", "-m", baseline_ckpt, "-o", out,
        "--repeats", "1", "--batch-size", "1", "--batch-size", "2", "--sheet", "2",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    for section in (
        "## Quality",
        "## Speed and size",
        "## Contact sheet",
        "Machine:",
        "protocol: full resolution",
    ):
        assert section in md, section
    for png in ("contact_sheet.png", "quality_vs_speed.png", "distributions.png"):
        assert (out / png).stat().st_size > 1000, png
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 3 and set(report["quality"]) == {"gray", "baseline"}
    speed = {s["model"]: s for s in report["speed"]}
    assert speed["baseline"]["parameters"] == 231_682
    assert set(speed["baseline"]["model_ms_per_image"]) == {"1", "2"}
    assert speed["baseline"]["gflops_per_image"] > 0 and speed["baseline"]["peak_rss_mb"] > 0
    assert all(v > 0 for v in speed["baseline"]["end_to_end_images_per_second"].values())
