"""Reports of VOC runs: VOC mAP columns (mAP, mAP@07) before COCO AP on the same detections."""

from __future__ import annotations

import json
import shutil

from asffbench.results.reading.collect import collect
from asffbench.results.reading.paper_reference import load_paper_reference
from asffbench.results.report.methods import methods_markdown
from asffbench.results.tables.render import display_frame, numbers_frame, to_markdown
from asffbench.results.tables.result_tables import build_tables

# Made-up VOC figures per fusion (fractions): (mAP, mAP07).
VOC_FIGURES = {"none": (0.80, 0.78), "concat": (0.81, 0.79), "sum": (0.805, 0.785), "asff": (0.83, 0.81),
               "asff_star": (0.84, 0.82)}


def voc_sweep(fixtures, tmp_path, voc_runs=None):
    """The fusion fixture sweep with its records turned into VOC runs (all, or those listed)."""
    target = tmp_path / "voc_sweep"
    shutil.copytree(fixtures / "fusion_sweep", target)
    for path in target.glob("*/record.json"):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        fusion = record.get("config", {}).get("fusion", {}).get("name")
        if not record.get("metrics") or (voc_runs is not None and path.parent.name not in voc_runs):
            continue
        record["config"]["data"] = {"name": "voc", "root": "VOCdevkit", "train": {}, "val": {}}
        m_ap, m_ap07 = VOC_FIGURES[fusion]
        record["metrics"].update(metric="voc", mAP=m_ap, mAP07=m_ap07)
        path.write_text(json.dumps(record))
    return target


def test_voc_runs_get_voc_columns_and_no_paper_figures(fixtures, tmp_path):
    (table,) = build_tables(collect([voc_sweep(fixtures, tmp_path)]).frame, load_paper_reference())
    assert table.voc and not table.has_paper
    shown = display_frame(table)
    assert list(shown.columns[:7]) == ["Method", "n", "mAP", "mAP@07", "COCO AP", "APs", "APm"]
    baseline = shown[shown["Method"] == "YOLOv3 baseline"].iloc[0]
    asff = shown[shown["Method"] == "ASFF"].iloc[0]
    assert (baseline["mAP"], baseline["mAP@07"]) == ("80.0 ± 0.0", "78.0 ± 0.0")  # two equal seeds
    assert (asff["mAP"], asff["ΔmAP"], asff["ΔmAP@07"]) == ("83.0 ± 0.0", "+3.0", "+3.0")
    numbers = numbers_frame(table)
    assert {"mAP", "mAP07", "delta_mAP"} <= set(numbers.columns)
    markdown = to_markdown(table)
    assert "VOC2007 11-point" in markdown and "AP (paper)" not in markdown


def test_mixed_records_keep_coco_columns(fixtures, tmp_path):
    sweep = voc_sweep(fixtures, tmp_path, voc_runs={"none_s0"})
    (table,) = build_tables(collect([sweep]).frame, load_paper_reference())
    assert not table.voc
    assert "mAP" not in display_frame(table).columns


def test_methods_block_states_the_voc_conventions(fixtures, tmp_path):
    records = collect([voc_sweep(fixtures, tmp_path)]).records
    text = methods_markdown([r for r in records if r.record.metrics])
    assert "VOC mAP@0.5 with difficult objects ignored" in text
    assert "trained on VOC2007+2012 trainval, evaluated on VOC2007 test" in text
