"""The report's "Error analysis" section: a table per axis with deltas to the baseline, and its figure."""

from __future__ import annotations

from tests.results.test_report_intervals import interval_sweep  # noqa: F401 - the fixture


def test_report_has_error_analysis_with_intervals_and_figure(interval_sweep, tmp_path):  # noqa: F811
    from asffbench.results.report.report_writer import write_report

    summary = write_report([interval_sweep], tmp_path / "report", bootstrap=50)
    (section,) = summary.errors
    rows = {row.cell.value: row for row in section.rows}
    assert section.iou == "50:95"
    assert rows["none"].point and not rows["none"].deltas  # the baseline row: numbers, no Δ
    asff = rows["asff"].deltas
    assert asff["AP|50:95|all"].significant and asff["AP|50:95|all"].delta > 0
    assert asff["loc|50:95|all"].delta < 0 and asff["loc|50:95|all"].significant  # tighter boxes
    text = summary.report.read_text()
    section_text = text[text.index("## Error analysis"):text.index("## Methods")]
    asff_line = next(line for line in section_text.splitlines() if line.startswith("| ASFF"))
    assert "Δ +" in asff_line and "] *" in asff_line
    assert "against the baseline row" in section_text
    assert "(figures/errors_fusion.png)" in section_text
    assert (tmp_path / "report" / "figures" / "errors_fusion.png").stat().st_size > 1000


def test_report_without_bootstrap_still_analyses_errors(interval_sweep, tmp_path):  # noqa: F811
    from asffbench.results.report.report_writer import write_report

    summary = write_report([interval_sweep], tmp_path / "report", bootstrap=0)
    (section,) = summary.errors
    assert all(row.point and not row.deltas for row in section.rows)
    text = summary.report.read_text()
    assert "## Error analysis" in text and ", Δ " not in text[text.index("## Error analysis"):text.index("## Methods")]


def test_report_can_leave_the_error_analysis_out(cli, interval_sweep, tmp_path):  # noqa: F811
    code, _, err = cli("report", str(interval_sweep), "--out", str(tmp_path / "report"), "--bootstrap", "0",
                       "--no-errors")
    assert code == 0, err
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Error analysis" not in text and not (tmp_path / "report" / "figures" / "errors_fusion.png").exists()
