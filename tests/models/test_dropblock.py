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
