import pytest

from asffbench.models import FUSIONS, Registry, UnknownNameError


def test_registry_builds_registered_names():
    registry = Registry("widget")

    @registry.register("double")
    def double(x):
        return 2 * x

    assert "double" in registry and len(registry) == 1
    assert registry.build("double", 21) == 42
    assert list(registry) == ["double"]


def test_registry_rejects_duplicates():
    registry = Registry("widget")
    registry.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.register("a")(lambda: 2)
    assert registry.build("a") == 1  # the first builder stays


def test_registry_unknown_name_lists_known_names():
    registry = Registry("widget")
    registry.register("a")(lambda: 1)
    registry.register("b")(lambda: 2)
    with pytest.raises(UnknownNameError) as info:
        registry.get("c")
    assert str(info.value) == "unknown widget 'c'; choose from a, b"
    assert isinstance(info.value, KeyError)


def test_fusion_registry_holds_the_five_fusions():
    assert sorted(FUSIONS) == ["asff", "asff_star", "concat", "none", "sum"]
    with pytest.raises(UnknownNameError, match="choose from"):
        FUSIONS.get("asf")
