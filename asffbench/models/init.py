"""Weight initialisations of a built model (`recipe.init`), by name; the builder applies one.

`torch` keeps every layer's PyTorch default. `reference` is the reference implementation's
`init_yolo`: every `nn.Conv2d` kaiming-normal (fan-in, leaky-ReLU gain with negative slope
`negative_slope`: 0.1 for its Darknet-53 models, 0 for its MobileNetV2 model) with its bias zero
(prediction convs, guided anchoring's shape conv and the deformable conv's offset conv included);
BatchNorm weight 1, bias 0. The deformable conv itself is no `nn.Conv2d` there either (nor here):
it keeps its own class's initialisation.
"""

from __future__ import annotations

from torch import nn

from asffbench.models.registry import Registry

INITS = Registry("initialisation")
DARKNET_SLOPE = 0.1  # the LeakyReLU slope of the Darknet-53 models; MobileNetV2 (ReLU6): 0


@INITS.register("torch")
def torch_init(model: nn.Module, negative_slope: float = DARKNET_SLOPE) -> nn.Module:
    """Every layer as PyTorch constructed it."""
    return model


@INITS.register("reference")
def reference_init(model: nn.Module, negative_slope: float = DARKNET_SLOPE) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=negative_slope, mode="fan_in", nonlinearity="leaky_relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def initialise(model: nn.Module, name: str, negative_slope: float = DARKNET_SLOPE) -> nn.Module:
    """Apply the named initialisation in place; UnknownNameError for an unknown name."""
    return INITS.build(name, model, negative_slope=negative_slope)


def set_batchnorm(model: nn.Module, eps: float, momentum: float) -> nn.Module:
    """Every BatchNorm's eps and momentum, in place (a family's fact, e.g. YOLOv8's 1e-3 / 0.03,
    which ultralytics sets model-wide after building)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eps = eps
            module.momentum = momentum
    return model
