"""The models (docs/paper.md section 3): OpenLTH's architectures and initialisation, and the roles each declares."""

import pytest
import torch
from torch import nn

from lth import models, pruning

# name -> (in_channels, image size, classes, parameters of OpenLTH's model of that name)
SHAPES = {"lenet_300_100": (1, 28, 10, 266_610), "resnet20": (3, 32, 10, 272_474), "vgg16": (3, 32, 10, 14_728_266),
          "resnet18": (3, 64, 200, 11_279_112),
          "resnet8_16": (1, 28, 10, 77_754),  # OpenLTH's cifar_resnet_8_16 on one input channel
          "vgg16_8": (1, 28, 10, 232_130)}  # cifar_vgg_16's layout, 8 to 64 channels: 3x3 convs with bias and BN, fc


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_builds_runs_and_has_openlths_parameter_count(name):
    c, size, k, params = SHAPES[name]
    torch.manual_seed(0)
    model = models.build(name, c, size, k)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.randn(2, c, size, size)).shape == (2, k)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_declared_roles_are_prunable_layers_in_order(name):
    c, size, k, _ = SHAPES[name]
    model = models.build(name, c, size, k)
    layers, roles = pruning.prunable_layers(model), models.roles(model)
    assert roles.input == layers[0] and roles.output == layers[-1]
    assert roles.middle in layers[1:-1] and all(s in layers for s in roles.shortcuts)
    assert all(model.get_submodule(s).kernel_size == (1, 1) for s in roles.shortcuts)


def test_the_papers_resnet18_layers_have_the_papers_names():
    roles = models.roles(models.build("resnet18", 3, 64, 200))
    followed = [roles.input, roles.shortcuts[0], roles.middle, roles.output]
    assert followed == ["conv1", "layer2.0.downsample.0", "layer4.1.conv2", "fc"]
    assert [roles.names.get(n) for n in followed] == ["Conv1", "Downsample1", "Conv17", "FC"]  # the paper's Table 1


def test_shortcuts_of_the_cifar_resnets():
    assert models.roles(models.build("resnet20", 3, 32, 10)).shortcuts == ("blocks.3.shortcut.0", "blocks.6.shortcut.0")
    assert models.roles(models.build("resnet8_16", 1, 28, 10)).shortcuts == ("blocks.1.shortcut.0", "blocks.2.shortcut.0")
    assert models.roles(models.build("vgg16", 3, 32, 10)).shortcuts == ()


def test_initialisation_is_openlths_kaiming_normal_and_uniform_batchnorm():
    torch.manual_seed(0)
    model = models.build("resnet18", 3, 64, 200)
    w = model.get_submodule("layer3.0.conv1").weight
    fan_in = w[0].numel()
    assert w.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.02)  # Kaiming normal, fan-in, ReLU gain
    bn = model.get_submodule("layer3.0.bn1")
    assert 0 <= bn.weight.min() and bn.weight.max() < 1 and bn.weight.std() > 0.2 and not bn.bias.any()


def test_a_model_without_roles_gets_one_line_saying_what_to_add():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

    with pytest.raises(TypeError, match="Plain does not declare its layer roles: give it a roles\\(\\) method"):
        models.roles(Plain())


def test_a_role_naming_a_missing_layer_is_refused():
    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def roles(self):
            return models.Roles(input="fc", middle="fc", output="head")

    with pytest.raises(ValueError, match="names 'head', which is not one of its Conv2d or Linear layers: fc"):
        models.roles(Wrong())
