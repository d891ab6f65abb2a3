"""The fusion registry: `fusion=<name>` picks a builder here.

A builder takes (in_channels, out_channels, compress_c, upsample): the three neck level widths
(stride 32, 16, 8), the widths each level must hand to its head, the ASFF weight width and the
interpolation mode of the resize stage. Builders that do not use an argument ignore it.
"""

from asffbench.models.registry import Registry

FUSIONS = Registry("fusion")
