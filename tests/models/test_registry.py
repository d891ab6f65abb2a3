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


def test_fusion_registry_holds_the_nine_fusions():
    assert sorted(FUSIONS) == ["afpn", "asff", "asff_pan", "asff_star", "bifpn", "concat", "none", "pan", "sum"]
    with pytest.raises(UnknownNameError, match="choose from"):
        FUSIONS.get("asf")


def test_registry_info_travels_with_the_entry():
    registry = Registry("widget")
    registry.register("a", info={"size": 3})(lambda: 1)
    registry.register("b")(lambda: 2)
    assert registry.info("a") == {"size": 3}
    assert registry.info("b") is None
    with pytest.raises(UnknownNameError, match="choose from a, b"):
        registry.info("c")


def test_fusion_info_says_what_each_fusion_is():
    from asffbench.models import fusion_info

    adaptive = sorted(name for name in FUSIONS if fusion_info(name).adaptive)
    assert adaptive == ["afpn", "asff", "asff_pan", "asff_star"]
    assert [name for name in FUSIONS if fusion_info(name).enhanced] == ["asff_star"]
    assert not fusion_info("none").uses_upsample and not fusion_info("pan").uses_upsample
    assert all(fusion_info(name).uses_upsample for name in ("sum", "concat", "asff", "asff_star", "asff_pan", "bifpn"))
    assert sorted(name for name in FUSIONS if fusion_info(name).uses_pan_merge) == ["asff_pan", "pan"]
    assert [name for name in FUSIONS if fusion_info(name).replaces_neck] == ["afpn"]
    assert [name for name in FUSIONS if fusion_info(name).uses_bifpn] == ["bifpn"]
    assert [name for name in FUSIONS if fusion_info(name).edge_weights] == ["bifpn"]
    assert sorted(name for name in FUSIONS if fusion_info(name).uses_compress_c) == ["afpn", "asff", "asff_pan", "asff_star"]
    assert fusion_info("asff_star").default_compress_c == 8 and fusion_info("asff").default_compress_c == 16
