"""PyTorch models of the book (chapter 7 on) and the tools that count them.

One module per architecture, each class building both the paper's ImageNet-sized network
(``num_classes=1000, in_channels=3``, 224x224) and, through its ``small()`` class method, a
CPU-sized network for 28x28 MNIST digits from the same code with other arguments:

* :mod:`~dlcourse.models.lenet`: :class:`LeNet` (chapter 7; ``batch_norm=True`` / :func:`BNLeNet`, chapter 12)
* :mod:`~dlcourse.models.alexnet`: :class:`AlexNet` (chapter 8)
* :mod:`~dlcourse.models.vgg`: :class:`VGG`, :data:`VGG_CONFIGS` (A-E), :func:`vgg11` ... :func:`vgg19` (chapter 9)
* :mod:`~dlcourse.models.nin`: :class:`NiN` (chapter 10)
* :mod:`~dlcourse.models.googlenet`: :class:`Inception`, :class:`GoogLeNet` (chapter 11)
* :mod:`~dlcourse.models.resnet`: :class:`Residual`, :class:`ResNet`, :func:`resnet18`, :func:`resnet34` (chapter 13)
* :mod:`~dlcourse.models.deep`: :class:`DeepMLP`, :class:`DeepCNN`, :func:`initialize`,
  :func:`gradient_norms`, :func:`activation_stds` (chapters 17-18: deep, narrow networks to measure)
* :mod:`~dlcourse.models.autoencoder`: :class:`DenseAutoencoder`, :class:`ConvAutoencoder`,
  :func:`train_autoencoder` (chapter 20)
* :mod:`~dlcourse.models.gan`: :class:`Generator`, :class:`Discriminator`, :func:`train_gan` (chapter 21)
* :mod:`~dlcourse.models.complexity`: :func:`layer_table`, :func:`complexity` (parameters and
  multiply-accumulates per layer, by forward hooks)
"""
from __future__ import annotations

from dlcourse.models.alexnet import AlexNet
from dlcourse.models.complexity import ComplexityTable, LayerTable, complexity, count_params, layer_table
from dlcourse.models.deep import DeepCNN, DeepMLP, activation_stds, gradient_norms, initialize
from dlcourse.models.googlenet import INCEPTION_CONFIGS, INCEPTION_TABLE, GoogLeNet, Inception
from dlcourse.models.lenet import BNLeNet, LeNet
from dlcourse.models.nin import NiN, nin_block
from dlcourse.models.resnet import Residual, ResNet, resnet18, resnet34
from dlcourse.models.vgg import VGG, VGG_CONFIGS, vgg11, vgg13, vgg16, vgg19, vgg_block
# chapters 20-21: autoencoders and a GAN (trained by their own loops, in the same modules)
from dlcourse.models.autoencoder import ConvAutoencoder, DenseAutoencoder, train_autoencoder
from dlcourse.models.gan import Discriminator, Generator, train_gan

__all__ = [
    "LeNet", "BNLeNet", "AlexNet", "VGG", "VGG_CONFIGS", "vgg_block", "vgg11", "vgg13", "vgg16", "vgg19",
    "NiN", "nin_block", "Inception", "GoogLeNet", "INCEPTION_CONFIGS", "INCEPTION_TABLE",
    "Residual", "ResNet", "resnet18", "resnet34",
    "DeepMLP", "DeepCNN", "initialize", "gradient_norms", "activation_stds",
    "layer_table", "LayerTable", "complexity", "ComplexityTable", "count_params", "SMALL_MODELS",
    "DenseAutoencoder", "ConvAutoencoder", "train_autoencoder", "Generator", "Discriminator", "train_gan",
]

SMALL_MODELS = {
    "lenet": LeNet.small,
    "bn-lenet": lambda **kw: LeNet.small(batch_norm=True, **kw),
    "alexnet": AlexNet.small,
    "vgg": VGG.small,
    "nin": NiN.small,
    "googlenet": GoogLeNet.small,
    "resnet": ResNet.small,
}
"""The CPU-sized network of each chapter for 28x28 digits: name -> factory ``(num_classes=10,
in_channels=1, **overrides) -> nn.Module`` (the benchmark ``benchmarks/modern_cnns.py`` trains
them all)."""
