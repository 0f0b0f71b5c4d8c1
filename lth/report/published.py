"""The paper's numbers (docs/paper.md section 4, from ``paper_results.csv``) and where our runs meet them: the
paper's setting each of our models stands for, and our round of a paper round's sparsity."""

import math
from pathlib import Path

import pandas as pd

from lth import presets


PAPER_RESULTS = Path(__file__).with_name("paper_results.csv")


def paper_results(table):
    """The numbers the paper reports (docs/paper.md section 4), from the one data file that holds them."""
    df = pd.read_csv(PAPER_RESULTS, comment="#")
    return df[df["table"] == table].drop(columns="table").reset_index(drop=True)


# The paper's setting each model stands for, by the model's name (its longest matching prefix): a CPU preset's
# smaller models stand for the paper's (resnet8_16 for ResNet-20, vgg16_8 for VGG-16); the one place that says so.
PAPER_SETTINGS = {"lenet_300_100": "lenet_300_100_mnist", "resnet8": "resnet20_cifar10",
                  "resnet20": "resnet20_cifar10", "vgg16": "vgg16_cifar10", "resnet18": "resnet18_tinyimagenet"}


def paper_setting(model):
    """The paper's setting (``presets.PAPER``) that a run of ``model`` stands for; None where the paper has none."""
    prefixes = sorted((p for p in PAPER_SETTINGS if model.startswith(p)), key=len)
    return PAPER_SETTINGS[prefixes[-1]] if prefixes else None


def compare_with_paper(table2):
    """Table 2 as "ours / paper / difference": ``summary`` rows joined with the paper's cells.

    The paper's "dense" row is round 0, which is the same network for every metric of a seed.
    """
    paper = paper_results("table2").rename(columns={"value": "paper"}).astype({"round": int})
    dense = table2[(table2["round"] == 0) & (table2["importance"] == table2["importance"].iloc[0])]
    table2 = pd.concat([dense.assign(importance="dense"), table2[table2["round"] > 0]], ignore_index=True)
    out = table2.merge(paper[["setting", "round", "importance", "paper"]], on=["setting", "round", "importance"], how="left")
    out["difference"] = out["mean"] - out["paper"]
    return out


PAPER_FRACTION = presets.DEFAULT["prune_fraction"]  # the paper prunes 20 % a round in every setting


def our_round(paper_round, fraction):
    """Our round of the paper's round's sparsity: the same round where both prune 20 % a round."""
    return round(paper_round * math.log(1 - PAPER_FRACTION) / math.log(1 - fraction))


def table2():
    p = paper_results("table2").astype({"round": int})
    return p.pivot_table(index=["setting", "round"], columns="importance", values="value", sort=False).reset_index()


def rounds_of(paper_setting, which):
    """Table 2's rounds of ``paper_setting``: "early" (its first), "late" (the others) or "all"."""
    rs = sorted(r for r in table2().query("setting == @paper_setting")["round"] if r > 0)
    return {"early": rs[:1], "late": rs[1:], "all": rs}[which]


# The accuracy claims with numbers in Table 2: (metrics, which settings, which rounds) (``effects``).
EFFECTS = {"equal": (("l1", "l2"), "all", "late"), "behind": (("minmax", "softmax"), "not lenet", "all"),
           "lenet": (("minmax", "softmax"), "lenet", "late")}


def is_lenet(setting_or_model):
    return "lenet" in setting_or_model
