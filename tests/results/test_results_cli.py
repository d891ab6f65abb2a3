"""`asffbench collect` / `asffbench report` from the command line, and the no-torch rule."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd


def test_collect_writes_csv_and_warns_about_broken_records(cli, fixtures, tmp_path):
    code, out, err = cli("collect", str(fixtures / "fusion_sweep"), "--out", str(tmp_path / "r.csv"))
    assert code == 0, err
    assert out.startswith("7 records (6 completed, 1 failed) -> ")
    assert "broken/record.json: not valid JSON" in err
    assert len(pd.read_csv(tmp_path / "r.csv")) == 7
    assert (tmp_path / "r.parquet").is_file()


def test_collect_of_an_empty_dir_says_so(cli, tmp_path):
    code, out, _ = cli("collect", str(tmp_path))
    assert code == 0
    assert out.startswith("no run records found under")
    assert list(tmp_path.iterdir()) == []


def test_report_prints_tables_and_the_state_of_the_sweep(cli, fixtures, tmp_path):
    code, out, err = cli("report", str(fixtures / "fusion_sweep"), "--out", str(tmp_path / "rep"),
                         "--format", "latex")
    assert code == 0, err
    assert "Fusion methods (Table 3 layout)" in out and "YOLOv3 baseline" in out
    assert "failed: fusion=asff_star,seed=0 (asff_star_s0): NonFiniteLossError" in out
    assert "Partly failed sweep: 6 of 7 runs completed" in out
    assert f"report written to {tmp_path / 'rep' / 'report.md'}" in out
    assert (tmp_path / "rep" / "tables" / "fusion.tex").read_text().startswith("\\begin{table}")


def test_report_baseline_option(cli, one_line_error, fixtures, tmp_path):
    code, out, err = cli("report", str(fixtures / "fusion_sweep"), "--out", str(tmp_path / "rep"),
                         "--baseline", "fusion=sum", "--bootstrap", "0")
    assert code == 0, err
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "- Δ: change against the sum row." in report
    results = report.split("## Results")[1].split("## Figures")[0]
    (sum_row,) = [line for line in results.splitlines() if line.startswith("| sum ")]
    cells = [c.strip() for c in sum_row.split("|")]
    assert cells[12:18] == ["0.0", "0.0", "0.0", "0.0", "0.00", "0.0"]  # every Δ is zero on the baseline row
    one_line_error(*cli("report", str(fixtures / "fusion_sweep"), "--out", str(tmp_path / "o"),
                        "--baseline", "fusion")[::2], "--baseline fusion: expected AXIS=VALUE")
    one_line_error(*cli("report", str(fixtures / "fusion_sweep"), "--out", str(tmp_path / "o"),
                        "--baseline", "fusion=pan")[::2], "--baseline fusion=pan: no row has fusion=pan")
    assert not (tmp_path / "o").exists()


def test_cli_errors_are_one_line(cli, one_line_error, fixtures, tmp_path):
    missing = str(tmp_path / "nowhere")
    one_line_error(*cli("collect", missing)[::2], "nowhere: no such directory")
    one_line_error(*cli("report", missing)[::2], "nowhere: no such directory")
    one_line_error(*cli("report", str(fixtures / "size_sweep"), "--format", "pdf")[::2], "pdf")
    bad = tmp_path / "ref.yaml"
    bad.write_text("entries: [{id: a}]\n")
    one_line_error(*cli("report", str(fixtures / "size_sweep"), "--out", str(tmp_path / "o"),
                        "--reference", str(bad))[::2], "ref.yaml: entry a: missing field")
    assert not (tmp_path / "o").exists()


def test_results_layer_never_imports_torch():
    code = (
        "import sys, pkgutil, importlib, asffbench.results as r\n"
        "names = [m.name for m in pkgutil.walk_packages(r.__path__, 'asffbench.results.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "import asffbench.cli.report_cmd\n"
        "print(sorted(names))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "'asffbench.results.report.figures'" in done.stdout and "'asffbench.results.report.report_writer'" in done.stdout
