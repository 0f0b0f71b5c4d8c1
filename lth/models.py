"""The paper's models, built as OpenLTH builds them, with OpenLTH's initialisation.

``build(name, in_channels, image_size, num_classes)`` returns a freshly initialised model; the
caller seeds the RNG. Conv/Linear weights are Kaiming normal, BatchNorm weights uniform in [0, 1)
and its biases 0 (OpenLTH's ``kaiming_normal`` and ``batchnorm_init='uniform'``).

Every model declares the roles of its layers (``roles()``): the input, middle and output layers
and the 1x1 shortcuts that the paper's Table 1 and Figures 2, 9 and 10 follow, with the paper's
names where it names them. The analysis uses only these declarations, never guesses from names.
"""

from dataclasses import dataclass, field

import torch
import torchvision
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Roles:
    """Layer names (as in ``model.get_submodule``) of the layers the paper's tables and figures follow."""

    input: str
    middle: str  # a 3x3 conv (or hidden layer) of the main path, followed beside input and output
    output: str
    shortcuts: tuple[str, ...] = ()  # the 1x1 convolutions of the skip connections, input first
    names: dict[str, str] = field(default_factory=dict)  # the paper's names of these layers, where it names them


class LeNet(nn.Module):
    """OpenLTH's mnist_lenet_300_100: fully connected layers ``fc_layers.*`` and the output ``fc``."""

    def __init__(self, inputs, plan=(300, 100), num_classes=10):
        super().__init__()
        sizes = [inputs, *plan]
        self.fc_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.fc = nn.Linear(sizes[-1], num_classes)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.fc_layers:
            x = F.relu(layer(x))
        return self.fc(x)

    def roles(self):
        return Roles(input="fc_layers.0", middle=f"fc_layers.{len(self.fc_layers) - 1}", output="fc")


class Block(nn.Module):
    """OpenLTH's CIFAR ResNet block; a 1x1 conv shortcut where the shape changes."""

    def __init__(self, f_in, f_out, downsample):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        self.shortcut = nn.Sequential()
        if downsample or f_in != f_out:
            self.shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, 1, stride=2, bias=False), nn.BatchNorm2d(f_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """OpenLTH's cifar_resnet_D_W (D = 6n + 2): three stages of n blocks, widths W, 2W, 4W.

    ``stem_stride=2`` (not OpenLTH's) halves the resolution at the first conv: a quarter of the
    operations, for the CPU presets."""

    def __init__(self, depth, width=16, in_channels=3, num_classes=10, stem_stride=1):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, f_in = [], width
        for stage, f_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(n):
                blocks.append(Block(f_in, f_out, downsample=stage > 0 and b == 0))
                f_in = f_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(f_in, num_classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def roles(self):
        shortcuts = tuple(f"blocks.{i}.shortcut.0" for i, b in enumerate(self.blocks) if len(b.shortcut))
        return Roles(input="conv", middle=f"blocks.{len(self.blocks) // 2}.conv1", output="fc", shortcuts=shortcuts)


class VGG(nn.Module):
    """OpenLTH's cifar_vgg_16: 3x3 conv + BatchNorm + ReLU modules, max-pools, one linear layer. ``width``: the
    first conv's channels (64 in VGG-16; every layer scales with it)."""

    PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)

    def __init__(self, in_channels=3, num_classes=10, width=64):
        super().__init__()
        layers, f_in = [], in_channels
        for spec in self.PLAN:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                spec = spec * width // 64
                layers += [nn.Conv2d(f_in, spec, 3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                f_in = spec
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(f_in, num_classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.layers(x), 1).flatten(1))

    def roles(self):
        convs = [f"layers.{i}" for i, m in enumerate(self.layers) if isinstance(m, nn.Conv2d)]
        return Roles(input=convs[0], middle=convs[len(convs) // 2], output="fc")


class ResNet18(torchvision.models.ResNet):
    """OpenLTH's imagenet_resnet_18: torchvision's ResNet-18 (7x7 stride-2 stem, max-pool)."""

    def __init__(self, in_channels=3, num_classes=200):
        super().__init__(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        if in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)

    def roles(self):
        """The paper's Table 1 names the 3x3 convs Conv1..Conv17 and the 1x1 shortcuts Downsample1..3; it
        follows Conv1, Downsample1, Conv17 (the last 3x3 conv, our "middle") and FC."""
        convs = ["conv1"] + [f"layer{s}.{b}.conv{c}" for s in range(1, 5) for b in range(2) for c in (1, 2)]
        shortcuts = tuple(f"layer{s}.0.downsample.0" for s in range(2, 5))
        names = {layer: f"Conv{i}" for i, layer in enumerate(convs, start=1)}
        names |= {layer: f"Downsample{i}" for i, layer in enumerate(shortcuts, start=1)} | {"fc": "FC"}
        return Roles(input="conv1", middle=convs[-1], output="fc", shortcuts=shortcuts, names=names)


MODELS = {
    "lenet_300_100": lambda c, size, k: LeNet(c * size * size, num_classes=k),
    # For the CPU presets: ResNet-8 of width 16 (two 1x1 shortcuts) with a stride-2 first conv.
    "resnet8_16": lambda c, size, k: CifarResNet(8, width=16, in_channels=c, num_classes=k, stem_stride=2),
    "resnet20": lambda c, size, k: CifarResNet(20, in_channels=c, num_classes=k),
    "vgg16": lambda c, size, k: VGG(c, k),
    # For the CPU presets: VGG-16's layout at an eighth of its width (8 to 64 channels, 230 K weights).
    "vgg16_8": lambda c, size, k: VGG(c, k, width=8),
    "resnet18": lambda c, size, k: ResNet18(c, k),
}


@torch.no_grad()
def initialise(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def check(name):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")


def roles(model):
    """The model's declared layer roles, checked against its Conv2d and Linear layers."""
    if not callable(getattr(model, "roles", None)):
        raise TypeError(f"{type(model).__name__} does not declare its layer roles: give it a roles() method "
                        "returning lth.models.Roles(input=..., middle=..., output=..., shortcuts=...)")
    r = model.roles()
    layers = {n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    if unknown := [n for n in (r.input, r.middle, r.output, *r.shortcuts, *r.names) if n not in layers]:
        raise ValueError(f"{type(model).__name__}.roles() names {unknown[0]!r}, which is not one of its Conv2d or "
                         f"Linear layers: {', '.join(sorted(layers))}")
    return r


def build(name, in_channels, image_size, num_classes):
    check(name)
    model = initialise(MODELS[name](in_channels, image_size, num_classes))
    roles(model)
    return model
