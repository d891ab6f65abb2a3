import pytest
import torch

from asffbench.models.layers import ScheduledDropBlock2d, dropblock_sizes_for_epoch


@pytest.mark.parametrize(
    "epoch, sizes",
    [(0, None), (4, None), (5, (1, 3, 5)), (79, (1, 3, 5)), (80, (3, 5, 7)), (149, (3, 5, 7)), (150, (7, 7, 7)), (299, (7, 7, 7))],
)
def test_schedule_of_block_sizes(epoch, sizes):
    assert dropblock_sizes_for_epoch(epoch) == sizes


def test_model_set_epoch_drives_the_neck_slots(tiny_model):
    model = tiny_model(fusion="asff_star", dropblock_keep_prob=0.8)
    slots = model.neck.dropblocks
    assert all(isinstance(slot, ScheduledDropBlock2d) for slot in slots)
    assert [slot.p for slot in slots] == [0.0, 0.0, 0.0]  # off before the schedule starts
    model.set_epoch(80)
    assert model.epoch == 80
    assert [slot.block_size for slot in slots] == [3, 5, 7]
    assert all(slot.p == pytest.approx(0.2) for slot in slots)
    model.set_epoch(2)
    assert [slot.p for slot in slots] == [0.0, 0.0, 0.0]


def test_set_epoch_is_a_no_op_without_dropblock(tiny_model):
    model = tiny_model(fusion="asff")
    assert not any(isinstance(m, ScheduledDropBlock2d) for m in model.modules())
    model.set_epoch(200)  # must not fail
    assert all(isinstance(slot, torch.nn.Identity) for slot in model.neck.dropblocks)


def test_dropblock_changes_training_outputs_only_once_scheduled(tiny_model, images):
    model = tiny_model(fusion="asff_star").train()
    torch.manual_seed(0)
    before = model(images).levels[2].pred
    torch.manual_seed(1)
    again = model(images).levels[2].pred
    torch.testing.assert_close(before, again)  # p = 0: deterministic
    model.set_epoch(150)
    torch.manual_seed(1)
    dropped = model(images).levels[2].pred
    assert not torch.allclose(before, dropped)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(images).levels[2].pred, model(images).levels[2].pred)


def test_block_shrinks_to_fit_small_maps():
    block = ScheduledDropBlock2d().train()
    block.set_block(7, 0.5)
    torch.manual_seed(0)
    out = block(torch.ones(2, 4, 2, 3))  # 7 -> 1 (largest odd size that fits 2x3)
    assert out.shape == (2, 4, 2, 3)
    assert (out == 0).any() and (out > 1).any()  # dropped cells, survivors rescaled
    with pytest.raises(ValueError, match="odd"):
        block.set_block(4, 0.1)


def test_named_slots_are_the_path_modules_and_leave_the_state_dict_alone(tiny_model):
    import copy

    from asffbench.models.neck.yolov3_neck import DROPBLOCK_SLOTS

    model = tiny_model(fusion="asff_star")
    neck = model.neck
    assert list(neck.dropblock_slots) == list(DROPBLOCK_SLOTS) == ["stride32", "stride16", "stride8"]
    # The reference layout: after the 3x3 conv of each path (the state-dict keys depend on it).
    assert neck.dropblock_slots["stride32"] is neck.path32[5]
    assert neck.dropblock_slots["stride16"] is neck.path16[2]
    assert neck.dropblock_slots["stride8"] is neck.path8[2]
    plain = tiny_model(fusion="asff_star", dropblock=False)
    assert list(model.state_dict()) == list(plain.state_dict())
    assert "neck.path32.6.conv.weight" in model.state_dict()
    assert not any("dropblock" in key for key in model.state_dict())
    twin = copy.deepcopy(model)  # as EMA copies the model: its slots are its own modules
    assert twin.neck.dropblock_slots["stride8"] is twin.neck.path8[2] is not neck.path8[2]
    twin.set_epoch(80)
    assert [slot.block_size for slot in twin.neck.dropblocks] == [3, 5, 7]
    assert [slot.p for slot in neck.dropblocks] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "epochs, epoch, sizes",
    [(30, 0, None), (30, 1, (1, 3, 5)), (30, 7, (1, 3, 5)), (30, 8, (3, 5, 7)), (30, 15, (7, 7, 7)),
     (7, 0, None), (7, 1, (1, 3, 5)), (7, 2, (3, 5, 7)), (7, 3, (3, 5, 7)), (7, 4, (7, 7, 7))],
)
def test_schedule_scales_with_the_run_length(epochs, epoch, sizes):
    assert dropblock_sizes_for_epoch(epoch, epochs) == sizes


def test_model_from_config_spreads_the_schedule_over_train_epochs():
    from asffbench.build import build_model
    from asffbench.config.compose import compose_config

    model = build_model(compose_config(["model=tiny", "fusion=asff_star", "train.epochs=30"]))
    model.set_epoch(8)
    assert [slot.block_size for slot in model.neck.dropblocks] == [3, 5, 7]
    model.set_epoch(0)
    assert [slot.p for slot in model.neck.dropblocks] == [0.0, 0.0, 0.0]


def test_reference_form_computes_gamma_once_at_the_first_input_size():
    from asffbench.models.layers.dropblock import reference_gamma

    block = ScheduledDropBlock2d("reference").train()
    block.set_block(3, 0.1)
    assert block.gamma is None
    block(torch.ones(1, 2, 20, 20))
    assert block.gamma == pytest.approx(0.1 * 20**2 / (9 * 18**2))
    block(torch.ones(1, 2, 40, 40))  # multi-scale: a new size keeps it
    assert block.gamma == pytest.approx(reference_gamma(0.1, 20, 3))
    block.set_block(3, 0.1)  # every epoch sets the same block: kept
    assert block.gamma is not None
    block.set_block(5, 0.1)  # a new block: computed again at the next input
    assert block.gamma is None
    block(torch.ones(1, 2, 40, 40))
    assert block.gamma == pytest.approx(reference_gamma(0.1, 40, 5))


def test_reference_form_seeds_anywhere_torchvision_only_where_a_block_fits():
    """A 5x5 block on a 9x9 map: the centre is dropped by a seed at any of 25 positions in both
    forms; the corner by one of 9 positions when seeds fall anywhere (the reference), by 1 when
    they fall only where a whole block fits (torchvision): corner/centre about 0.4 vs 0.05."""
    x = torch.ones(4096, 1, 9, 9)
    dropped = {}
    for form in ("reference", "torchvision"):
        block = ScheduledDropBlock2d(form).train()
        block.set_block(5, 0.1)
        torch.manual_seed(0)
        dropped[form] = (block(x) == 0).float().mean(dim=(0, 1))
    ratio = {form: (d[0, 0] / d[4, 4]).item() for form, d in dropped.items()}
    assert ratio["reference"] > 0.3 and ratio["torchvision"] < 0.1, ratio


def test_reference_form_in_the_model(tiny_model, images):
    model = tiny_model(fusion="asff_star", dropblock_form="reference").train()
    assert all(slot.form == "reference" for slot in model.neck.dropblocks)
    model.set_epoch(150)
    torch.manual_seed(1)
    out = model(images).levels[2].pred
    assert torch.isfinite(out).all()
    assert all(slot.gamma is not None for slot in model.neck.dropblocks)
    with pytest.raises(ValueError, match="form"):
        ScheduledDropBlock2d("gaussian")
