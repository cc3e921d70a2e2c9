using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>The order of the colour planes a pretrained network was trained on.</summary>
internal enum ChannelOrder
{
    /// <summary>Red, green, blue (torchvision; ML.NET's ExtractPixels default).</summary>
    Rgb,
    /// <summary>Blue, green, red (CNTK and Caffe models, ML.NET's ResNet-18).</summary>
    Bgr,
}

/// <summary>
/// The input a pretrained network expects, stated on pixels scaled to 0..1 in its channel order:
/// <c>input[c] = (x01[c] * ScaleFrom01 - Mean[c]) / Std[c]</c>.
/// </summary>
/// <param name="Order">The colour order of the network's input planes.</param>
/// <param name="ScaleFrom01">Multiplies 0..1 pixels (255 for networks trained on 0..255 values, 1 for torchvision's).</param>
/// <param name="Mean">Per channel, in <paramref name="Order"/>, subtracted after scaling.</param>
/// <param name="Std">Per channel, in <paramref name="Order"/>, divided by after the mean.</param>
/// <param name="Description">For the report, e.g. "BGR, 0–255, minus the channel means of its 224×224 mean image".</param>
internal sealed record PretrainedPreprocessing(ChannelOrder Order, float ScaleFrom01, float[] Mean, float[] Std, string Description)
{
    /// <summary>
    /// ML.NET's ResNet-18 (ResNetPreprocess.onnx): 0–255 BGR minus a 224×224 mean image. The engine takes images of any size,
    /// so it subtracts that image's per-channel means (B 103.06, G 115.90, R 123.15 — <see cref="MLNetResNet18"/> reads them
    /// from the package's file when it is there).
    /// </summary>
    public static PretrainedPreprocessing Cntk(float[] bgrMeans) => new(ChannelOrder.Bgr, 255f, bgrMeans, [1f, 1f, 1f],
        "BGR planes in 0–255 minus the per-channel means of ML.NET's 224×224 mean image (B " +
        string.Join(", G ", bgrMeans.Take(2).Select(m => m.ToString("F2", System.Globalization.CultureInfo.InvariantCulture))) +
        $", R {bgrMeans[2].ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}), no scaling");

    /// <summary>torchvision's ImageNet models: RGB in 0–1, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).</summary>
    public static PretrainedPreprocessing TorchvisionImageNet { get; } = new(ChannelOrder.Rgb, 1f,
        [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f],
        "RGB in 0–1, ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) (torchvision's transforms.Normalize)");

    /// <summary>The same input for a network whose first convolution reads RGB planes (what <see cref="PretrainedLoader"/> makes of a BGR one).</summary>
    public PretrainedPreprocessing InRgb() => Order == ChannelOrder.Rgb ? this
        : this with { Order = ChannelOrder.Rgb, Mean = Mean.Reverse().ToArray(), Std = Std.Reverse().ToArray() };
}

/// <summary>One tensor of a pretrained network: its shape and row-major float32 values.</summary>
/// <param name="Shape">Dimensions.</param>
/// <param name="Values">Row-major values.</param>
/// <param name="Origin">Where in the source file it was found, for errors (e.g. "ONNX node 'Conv_0' input 'W'"); null = its name.</param>
internal sealed record PretrainedTensor(long[] Shape, float[] Values, string? Origin = null)
{
    public long Count => Shape.Aggregate(1L, (product, dim) => product * dim);
}

/// <summary>
/// Weights read from a pretrained source, named as torchvision's ResNet state_dict names them (conv1.weight,
/// bn1.weight / bias / running_mean / running_var, layer1.0.conv1.weight, layer2.0.downsample.0.weight, …, fc.weight,
/// fc.bias): the names <see cref="ImageNetResNet"/>'s parameters and buffers have. Every reader (ML.NET's ResNet-18, a
/// torchvision ONNX export, a PyTorch state_dict, one of our own Dense exports) produces this; <see cref="PretrainedLoader"/>
/// copies it into a network, checking every shape.
/// </summary>
internal sealed class PretrainedWeights
{
    /// <summary>The file the weights came from (full path).</summary>
    public required string Source { get; init; }

    /// <summary>What kind of file it was, for the report: e.g. "ML.NET ResNet-18 (CNTK ONNX, NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18)".</summary>
    public required string Format { get; init; }

    /// <summary>Basic blocks in each of the four stages ([2, 2, 2, 2] = ResNet-18, [3, 4, 6, 3] = ResNet-34, [2, 2, 2, 3] = ML.NET's).</summary>
    public required IReadOnlyList<int> Blocks { get; init; }

    /// <summary>Input channels of the first convolution (3 for every ImageNet network).</summary>
    public required int InputChannels { get; init; }

    /// <summary>The tensors by state_dict name. The classifier (fc.weight, fc.bias) is absent when the source has none.</summary>
    public required IReadOnlyDictionary<string, PretrainedTensor> Tensors { get; init; }

    /// <summary>The input the network expects.</summary>
    public required PretrainedPreprocessing Preprocessing { get; init; }

    /// <summary>The source's class count (rows of fc.weight), or null when it has no classifier.</summary>
    public int? ClassCount => Tensors.TryGetValue("fc.weight", out PretrainedTensor? fc) && fc.Shape.Length == 2 ? (int)fc.Shape[0] : null;

    /// <summary>The engine architecture with these blocks, or null when none has them.</summary>
    public Architecture? Architecture =>
        Blocks.SequenceEqual(ImageNetResNet.ResNet18Blocks) ? Models.Architecture.ResNet18
        : Blocks.SequenceEqual(ImageNetResNet.ResNet34Blocks) ? Models.Architecture.ResNet34
        : Blocks.SequenceEqual(ImageNetResNet.ResNet18MLNetBlocks) ? Models.Architecture.ResNet18MLNet
        : null;
}
