"""The paper's models, built as OpenLTH builds them, with OpenLTH's initialisation.

``build(name, in_channels, image_size, num_classes)`` returns a freshly initialised model; the
caller seeds the RNG. Conv/Linear weights are Kaiming normal, BatchNorm weights uniform in [0, 1)
and its biases 0 (OpenLTH's ``kaiming_normal`` and ``batchnorm_init='uniform'``).
"""

import torch
import torchvision
from torch import nn
from torch.nn import functional as F


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
    """OpenLTH's cifar_resnet_D (D = 6n + 2): three stages of n blocks, widths w, 2w, 4w."""

    def __init__(self, depth, width=16, in_channels=3, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
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


class VGG(nn.Module):
    """OpenLTH's cifar_vgg_16: 3x3 conv + BatchNorm + ReLU modules, max-pools, one linear layer."""

    PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)

    def __init__(self, in_channels=3, num_classes=10):
        super().__init__()
        layers, f_in = [], in_channels
        for spec in self.PLAN:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(f_in, spec, 3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                f_in = spec
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(f_in, num_classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.layers(x), 1).flatten(1))


def resnet18(in_channels=3, num_classes=200):
    """OpenLTH's imagenet_resnet_18: torchvision's ResNet-18 (7x7 stride-2 stem, max-pool)."""
    model = torchvision.models.resnet18(num_classes=num_classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    return model


MODELS = {
    "lenet_300_100": lambda c, size, k: LeNet(c * size * size, num_classes=k),
    "resnet8_8": lambda c, size, k: CifarResNet(8, width=8, in_channels=c, num_classes=k),  # for CPU presets
    "resnet20": lambda c, size, k: CifarResNet(20, in_channels=c, num_classes=k),
    "vgg16": lambda c, size, k: VGG(c, k),
    "resnet18": lambda c, size, k: resnet18(c, k),
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


def build(name, in_channels, image_size, num_classes):
    check(name)
    return initialise(MODELS[name](in_channels, image_size, num_classes))
