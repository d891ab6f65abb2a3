"""Tables: golden Table 3 from hand-written records, deltas, seed noise, paper figures, formats."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest

from asffbench.errors import UserError
from asffbench.results.axes import AXES, Axis, detect_axes, get_axis, register_axis
from asffbench.results.collect import collect
from asffbench.results.reference import find_entry, load_paper_reference, parse_reference
from asffbench.results.render import display_frame, numbers_frame, to_csv, to_latex, to_markdown
from asffbench.results.stats import Stat, summarize, within_noise
from asffbench.results.tables import build_tables, table_runs

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def reference():
    return load_paper_reference()


def tables_of(path, reference):
    return build_tables(collect([path]).frame, reference)


def test_fusion_table_matches_golden_markdown(fixtures, reference):
    (table,) = tables_of(fixtures / "fusion_sweep", reference)
    assert to_markdown(table) == (GOLDEN / "fusion_table.md").read_text(encoding="utf-8")


def test_fusion_rows_in_paper_order_with_display_names(fixtures, reference):
    (table,) = tables_of(fixtures / "fusion_sweep", reference)
    assert [c.value for c in table.cells] == ["none", "concat", "sum", "asff", "asff_star"]
    assert [c.label for c in table.cells] == ["YOLOv3 baseline", "concat", "sum", "ASFF", "ASFF*"]
    assert [c.n for c in table.cells] == [2, 1, 1, 2, 0]
    assert table.cells[-1].failed == 1


def test_deltas_against_baseline_and_paper(fixtures, reference):
    (table,) = tables_of(fixtures / "fusion_sweep", reference)
    numbers = numbers_frame(table).set_index("fusion")
    assert numbers.loc["none", "baseline"]
    assert numbers.loc["none", "delta_AP"] == 0.0
    assert numbers.loc["asff", "AP"] == pytest.approx(33.3)
    assert numbers.loc["asff", "delta_AP"] == pytest.approx(33.3 - 30.5)
    # Paper: the strong baseline 38.8 is exact, ASFF's 40.6 approximate.
    assert numbers.loc["none", "paper_AP"] == 38.8 and numbers.loc["none", "paper_exact"]
    assert numbers.loc["none", "delta_paper_AP"] == pytest.approx(30.5 - 38.8)
    assert numbers.loc["asff", "paper_AP"] == 40.6 and not numbers.loc["asff", "paper_exact"]
    assert numbers.loc["asff", "delta_paper_AP"] == pytest.approx(33.3 - 40.6)
    shown = display_frame(table).set_index("Method")
    assert shown.loc["YOLOv3 baseline", "ΔAP"] == "0.0"
    assert shown.loc["ASFF", "AP (paper)"] == "≈40.6"
    assert shown.loc["ASFF", "Δ paper"] == "≈-7.3"
    assert shown.loc["YOLOv3 baseline", "Δ paper"] == "-8.3"


def test_input_size_table_uses_exact_test_dev_figures(fixtures, reference):
    (table,) = tables_of(fixtures / "size_sweep", reference)
    assert table.axis.name == "img_size"
    assert [c.value for c in table.cells] == [320, 416, 608]
    assert [c.paper.id for c in table.cells] == ["asff_star_320", "asff_star_416", "asff_star_608"]
    assert all(c.paper.exact and c.paper.split == "test-dev" for c in table.cells)
    base = next(c for c in table.cells if c.baseline)
    assert base.value == 608 and base.deltas["AP"] == 0.0
    shown = display_frame(table).set_index("Input size")
    assert shown.loc["320", "Δ paper"] == "+0.0"
    assert shown.loc["416", "Δ paper"] == "-0.6"
    assert shown.loc["320", "ΔFPS"] == "+16.0"


def test_cumulative_tricks_each_row_against_the_previous(fixtures, reference):
    (table,) = tables_of(fixtures / "tricks_sweep", reference)
    assert table.axis.name == "tricks"
    assert [c.label for c in table.cells] == [
        "no tricks", "+ guided_anchoring", "+ iou_loss", "+ mixup"]
    assert [round(c.deltas["AP"], 6) for c in table.cells] == [0.0, 1.5, 0.7, 0.8]
    assert [c.baseline for c in table.cells] == [True, False, False, False]
    # Plain YOLOv3 at 608 is the paper's original YOLOv3 (33.0 AP, exact).
    assert table.cells[0].paper.id == "yolov3_original"
    assert all(c.paper is None for c in table.cells[1:])


def test_seed_noise_rule():
    base = summarize([30.0, 31.0])  # std 0.707
    assert base == Stat(30.5, pytest.approx(math.sqrt(0.5)), 2)
    assert within_noise(summarize([31.0]), base)  # |0.5| <= 0.707
    assert not within_noise(summarize([31.5]), base)  # |1.0| > 0.707
    # Two spreads add in quadrature: sqrt(0.5 + 0.5) = 1.0.
    assert within_noise(summarize([31.0, 32.0]), base)
    assert not within_noise(summarize([31.5, 32.5]), base)
    # No cell with two seeds: no estimate, nothing marked.
    assert not within_noise(summarize([30.5]), summarize([30.5]))
    assert summarize([float("nan")]).n == 0


def test_noise_marks_in_fusion_table(fixtures, reference):
    (table,) = tables_of(fixtures / "fusion_sweep", reference)
    cells = {c.value: c for c in table.cells}
    assert cells["concat"].noise["AP"]  # 0.0 within the baseline's 0.7
    assert not cells["sum"].noise["AP"]  # +1.5 beyond it
    assert cells["asff"].noise["APl"] and not cells["asff"].noise["AP"]
    assert display_frame(table).set_index("Method").loc["concat", "ΔAP"] == "+0.0 ~"


def test_csv_and_latex_formats(fixtures, reference):
    (table,) = tables_of(fixtures / "fusion_sweep", reference)
    back = pd.read_csv(io.StringIO(to_csv(table)))
    assert list(back["fusion"]) == ["none", "concat", "sum", "asff", "asff_star"]
    assert back.loc[0, "AP_std"] == pytest.approx(math.sqrt(0.5))
    assert list(back["delta_AP_within_noise"]) == [False, True, False, False, False]
    latex = to_latex(table)
    assert "\\begin{tabular}" in latex and "\\caption{Fusion methods (Table 3 layout)}" in latex
    assert "30.5 $\\pm$ 0.7" in latex and "$\\Delta$AP" in latex and "$\\approx$40.6" in latex
    assert "±" not in latex and "Δ" not in latex


def test_axes_from_config_when_records_have_none(fixtures):
    frame = collect([fixtures / "fusion_sweep"]).frame
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("axis.")])
    # compress_c varies too (ASFF* brings 8) but is fixed by the fusion: not an axis of its own.
    assert [a.name for a in detect_axes(table_runs(frame)[0])] == ["fusion"]


def test_rerun_of_the_same_experiment_is_not_another_seed(fixtures, reference):
    frame = collect([fixtures / "fusion_sweep"]).frame
    rerun = frame[frame["fusion"] == "sum"].copy()
    rerun["AP"] = 0.9
    rerun["finished"] = "2024-01-01T00:00:00+00:00"  # older than the original
    runs, dropped = table_runs(pd.concat([frame, rerun], ignore_index=True))
    assert dropped == 1
    assert runs.loc[runs["fusion"] == "sum", "AP"].tolist() == [pytest.approx(0.32)]


def test_axis_registry_rejects_unknown_and_duplicates():
    with pytest.raises(KeyError, match="unknown axis 'depth'"):
        get_axis("depth")
    with pytest.raises(ValueError, match="already registered"):
        register_axis(Axis(name="fusion", column="fusion", title="x", header="x"))
    assert list(AXES)[:5] == ["fusion", "compress_c", "upsample", "tricks", "img_size"]


def test_reference_file_and_matching(reference):
    ids = {e.id for e in reference}
    assert {"yolov3_original", "yolov3_strong_baseline", "fusion_asff", "asff_star_800"} <= ids
    assert find_entry(reference, "asff_star", 800.0, "all").metrics["AP"] == 43.9
    assert find_entry(reference, "asff", 608, "none") is None  # tricks differ
    assert find_entry(reference, "asff", 416, "all") is None  # MobileNetV2's row is another backbone's
    assert find_entry(reference, "asff", 416, "all", "mobilenetv2").metrics == {"AP": 30.6}
    assert find_entry(reference, "none", 416, "all", "mobilenetv2").metrics == {"AP": 29.0}
    assert find_entry(reference, "asff_star", 800, "all", "mobilenetv2") is None
    approximate = {e.id for e in reference if not e.exact}
    assert approximate == {"fusion_sum", "fusion_concat", "fusion_asff"}


def test_malformed_reference_is_a_user_error():
    with pytest.raises(UserError, match="ref.yaml: entry x: missing field 'split'"):
        parse_reference("entries:\n  - {id: x, source: s, exact: true, "
                        "setting: {method: none, img_size: 608, tricks: all}}\n", "ref.yaml")
    with pytest.raises(UserError, match="ref.yaml: expected a mapping"):
        parse_reference("- 1\n", "ref.yaml")


def test_baseline_option_picks_the_row_deltas_are_taken_against(fixtures, reference):
    frame = collect([fixtures / "fusion_sweep"]).frame
    (table,) = build_tables(frame, reference, baselines={"fusion": "asff"})
    numbers = numbers_frame(table).set_index("fusion")
    assert numbers["baseline"].to_dict() == {"none": False, "concat": False, "sum": False, "asff": True,
                                             "asff_star": False}
    assert numbers.loc["asff", "delta_AP"] == 0.0
    assert numbers.loc["none", "delta_AP"] == pytest.approx(30.5 - 33.3)
    assert all(c.base.value == "asff" for c in table.cells)
    # The display name and the record key name the same row and axis.
    (by_label,) = build_tables(frame, reference, baselines={"fusion.name": "ASFF"})
    assert [c.baseline for c in by_label.cells] == [c.baseline for c in table.cells]


@pytest.mark.parametrize("baselines, needle", [
    ({"fusion": "bifpn"}, "--baseline fusion=bifpn: no row has fusion=bifpn (rows: YOLOv3 baseline, concat"),
    ({"img_size": "608"}, "--baseline img_size=608: the records vary along no axis 'img_size' (their axes: fusion)"),
])
def test_baseline_option_names_what_is_missing(fixtures, reference, baselines, needle):
    with pytest.raises(UserError) as info:
        build_tables(collect([fixtures / "fusion_sweep"]).frame, reference, baselines=baselines)
    assert needle in str(info.value)


def test_report_groups_rows_by_model_family(fixtures, reference):
    """Records of both families: every table takes its rows and baseline within a family; the
    family is a grouping axis though no sweep swept it (old records, absent family: YOLOv3)."""
    frame = collect([fixtures / "fusion_sweep"]).frame
    assert set(frame["family"]) == {"yolov3"}
    v8 = frame.copy()
    v8["family"] = "yolov8"
    v8["experiment_hash"] = v8["experiment_hash"].map(lambda h: f"v8{h}")
    v8["AP"] = v8["AP"] + 0.1
    runs, _ = table_runs(pd.concat([frame, v8], ignore_index=True))
    assert [a.name for a in detect_axes(runs)] == ["family", "fusion"]
    fusion_table = next(t for t in build_tables(runs, reference) if t.axis.name == "fusion")
    assert [a.name for a in fusion_table.context_axes] == ["family"]
    contexts = [c.context for c in fusion_table.cells]
    assert contexts == [("yolov3",)] * 5 + [("yolov8",)] * 5
    v8_asff = next(c for c in fusion_table.cells if c.context == ("yolov8",) and c.value == "asff")
    v3_asff = next(c for c in fusion_table.cells if c.context == ("yolov3",) and c.value == "asff")
    assert v8_asff.deltas["AP"] == pytest.approx(v3_asff.deltas["AP"])  # each against its own baseline
    # fusion=none is YOLOv3's baseline but YOLOv8's top-down path alone: each row says which.
    labels = {(c.context, c.value): c.label for c in fusion_table.cells}
    assert labels[(("yolov3",), "none")] == "YOLOv3 baseline"
    assert labels[(("yolov8",), "none")] == "top-down only (no PAN)"
