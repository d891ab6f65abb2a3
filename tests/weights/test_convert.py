"""`asffbench weights convert`: a reference file becomes an asffbench checkpoint with the same weights."""

from __future__ import annotations

import torch

from asffbench.build import build_model
from asffbench.engine.checkpoint import load_checkpoint
from asffbench.weights.load import load_weights

from .conftest import TINY, as_reference, tiny_cfg


def test_convert_writes_a_checkpoint_that_loads_as_asffbench(tiny_model, tmp_path, cli):
    source = tiny_model("fusion=asff_star", seed=1)
    as_reference(source, tmp_path / "ref.pth")
    out = tmp_path / "shared" / "asff_star.pt"
    code, stdout, err = cli("weights", "convert", str(tmp_path / "ref.pth"), "--out", str(out), *TINY,
                            "fusion=asff_star")
    assert code == 0, err
    assert stdout.strip() == f"wrote {out}: {len(source.state_dict())} tensors from reference weights {tmp_path / 'ref.pth'}"
    state = load_checkpoint(out)  # weights_only, as every loader reads it
    assert state["converted_from"]["format"] == "reference" and state["config"]["fusion"]["name"] == "asff_star"
    target = build_model(tiny_cfg("fusion=asff_star"))
    assert load_weights(target, out).format == "asffbench"
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), source.state_dict().values()))


def test_convert_errors_are_one_line(tiny_model, tmp_path, cli, one_line_error):
    ref = str(as_reference(tiny_model("fusion=asff", seed=1), tmp_path / "ref.pth"))
    one_line_error(*cli("weights", "convert", ref, "--out", str(tmp_path / "x.pt"), *TINY, "fusion=none")[::2],
                   ref, "module_list.20.conv.weight")
    for fusion in ("pan", "bifpn", "asff_pan"):  # the necks the reference never had
        one_line_error(*cli("weights", "convert", ref, "--out", str(tmp_path / "x.pt"), *TINY, f"fusion={fusion}")[::2],
                       ref, "no reference checkpoint exists for it")
    one_line_error(*cli("weights", "convert", ref, "--out", str(tmp_path), *TINY)[::2], "is a directory")
    one_line_error(*cli("weights", "convert", ref, "--out", ref, *TINY)[::2], "is the source file")
    assert not (tmp_path / "x.pt").exists()
