"""Writes the files TorchvisionImportTests reads: torchvision ResNets with random weights, saved as PyTorch saves them.

Usage: python3 torchvision_fixtures.py OUT_DIR SEED

Writes into OUT_DIR:
  resnet18.pt             torch.save(resnet18(num_classes=10).state_dict())
  resnet18.onnx           torch.onnx.export of it in eval mode (opset 13, dynamic batch): batch norms folded into the convs
  resnet18-bn.onnx        the same exported in training mode (TrainingMode.PRESERVE, no constant folding): BatchNormalization
                          nodes kept beside the convs
  resnet34.pt             torch.save(resnet34(num_classes=10).state_dict())
  bottleneck.pt / .onnx   a small bottleneck ResNet (torchvision's ResNet-50 block, one block per stage)
  wrong-shape.pt          resnet18.pt with layer1.0.conv1.weight cut to 32 output channels
  float64.pt              resnet18.pt with every floating-point tensor in float64 (model.double())
  whole-model.pt          torch.save of a module itself (not its state_dict)
  legacy.pt               a small state_dict in PyTorch's pre-1.6 pickle format (_use_new_zipfile_serialization=False)
  images.bin              4×3×64×64 float32 (little-endian) pixels in 0..1
  resnet18.logits.bin     4×10 float32 logits of resnet18 in eval mode on the images
  resnet34.logits.bin     the same for resnet34
Batch-norm statistics and affine parameters are random and far from their initial values, so a reader that loses them fails.
"""
import os
import sys

import torch
import torchvision


def randomize(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    return model.eval()


def write(path, tensor):
    tensor.detach().contiguous().to(torch.float32).numpy().astype('<f4').tofile(path)


def main(out, seed):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(4, 3, 64, 64, generator=generator)
    write(os.path.join(out, "images.bin"), images)

    for name, factory in (("resnet18", torchvision.models.resnet18), ("resnet34", torchvision.models.resnet34)):
        model = randomize(factory(num_classes=10), generator)
        torch.save(model.state_dict(), os.path.join(out, name + ".pt"))
        with torch.no_grad():
            write(os.path.join(out, name + ".logits.bin"), model(images))
        if name != "resnet18":
            continue
        dummy = torch.zeros(1, 3, 64, 64)
        axes = {"input": {0: "batch"}, "logits": {0: "batch"}}
        torch.onnx.export(model, dummy, os.path.join(out, "resnet18.onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"], dynamic_axes=axes)
        torch.onnx.export(model, dummy, os.path.join(out, "resnet18-bn.onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"], dynamic_axes=axes,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        model.eval()
        state = model.state_dict()
        state["layer1.0.conv1.weight"] = state["layer1.0.conv1.weight"][:32].clone()
        torch.save(state, os.path.join(out, "wrong-shape.pt"))
        torch.save(model.double().state_dict(), os.path.join(out, "float64.pt"))
        torch.save(torch.nn.Conv2d(3, 4, 1), os.path.join(out, "whole-model.pt"))
        torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, os.path.join(out, "legacy.pt"),
                   _use_new_zipfile_serialization=False)

    from torchvision.models.resnet import Bottleneck, ResNet
    bottleneck = randomize(ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=16), generator)
    torch.save(bottleneck.state_dict(), os.path.join(out, "bottleneck.pt"))
    torch.onnx.export(bottleneck, torch.zeros(1, 3, 64, 64), os.path.join(out, "bottleneck.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: torchvision_fixtures.py OUT_DIR SEED")
    main(sys.argv[1], int(sys.argv[2]))
