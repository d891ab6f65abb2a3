"""The report's BiFPN edge weights: each node's normalised input weights, one table per run.

A BiFPN run's `metrics.edge_weights` (written by evaluation) holds, per layer, every node's
learned scalar weights over its input edges after normalisation (fast or softmax). Unlike
ASFF's maps they do not depend on the image, so they are shown as they are, not by object size.
"""

from __future__ import annotations

from typing import Optional, Sequence

from asffbench.results.reading.records import LoadedRecord
from asffbench.results.report.fusion_weight_section import runs_with_metric
from asffbench.results.tables.text_table import TextTable, markdown

NAMING = ("Nodes and edges are named by stride: `inS` is the input at stride S of the layer (the "
          "neck's level in the first BiFPN layer, the previous layer's output after it), `td16` the "
          "top-down node at stride 16, `outS` the output node at stride S. Each node's weights sum "
          "to 1 (fast normalisation: up to its 1e-4 in the denominator).")


def edge_text(edges: object) -> str:
    if not isinstance(edges, dict) or not edges:
        return "n/a"
    return ", ".join(f"{name} {float(weight):.3f}" for name, weight in edges.items())


def edge_weights_markdown(records: Sequence[LoadedRecord]) -> Optional[str]:
    """A table per run with learned edge weights: a row per (layer, node); None when no run has them."""
    runs = runs_with_metric(records, "edge_weights", "layers")
    if not runs:
        return None
    out = []
    for name, weights in runs:
        table = TextTable(["Layer", "Node", "Input edges: normalised weight"], [], align=["right", "left", "left"])
        for index, layer in enumerate(weights["layers"], start=1):
            for node, edges in (layer.items() if isinstance(layer, dict) else []):
                table.rows.append([str(index), node, edge_text(edges)])
        out.append(f"### {name} (weighting: {weights.get('weighting', 'n/a')})\n\n{markdown(table)}\n")
    out.append(NAMING + "\n")
    return "\n".join(out)
