namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>One convolution of an ImageNet ResNet with the batch norm that follows it, by state_dict prefix.</summary>
/// <param name="Conv">The conv's prefix (e.g. "layer2.0.conv1"; its tensor is Conv + ".weight").</param>
/// <param name="Norm">The batch norm's prefix (e.g. "layer2.0.bn1").</param>
/// <param name="Stride">The conv's stride.</param>
internal sealed record ResNetConv(string Conv, string Norm, int Stride);

/// <summary>
/// The torchvision state_dict layout of an ImageNet ResNet with basic blocks (what <see cref="Models.ImageNetResNet"/> has):
/// shared by the readers that map a file's tensors by graph structure or by name.
/// </summary>
internal static class ResNetLayout
{
    /// <summary>The batch norm's tensors in ONNX BatchNormalization input order (scale, B, mean, var).</summary>
    public static readonly IReadOnlyList<string> NormTensors = ["weight", "bias", "running_mean", "running_var"];

    /// <summary>
    /// The conv + BN pairs: the main path in forward order (stem, then each block's conv1 and conv2), and the projection
    /// shortcuts (downsample.0 / .1 of the first block of stages 2–4).
    /// </summary>
    public static (IReadOnlyList<ResNetConv> Main, IReadOnlyList<ResNetConv> Shortcuts) Convs(IReadOnlyList<int> blocks)
    {
        var main = new List<ResNetConv> { new("conv1", "bn1", 2) };
        var shortcuts = new List<ResNetConv>();
        for (int stage = 1; stage <= blocks.Count; stage++)
            for (int i = 0; i < blocks[stage - 1]; i++)
            {
                string block = $"layer{stage}.{i}";
                int stride = stage > 1 && i == 0 ? 2 : 1;
                main.Add(new($"{block}.conv1", $"{block}.bn1", stride));
                main.Add(new($"{block}.conv2", $"{block}.bn2", 1));
                if (stride == 2)
                    shortcuts.Add(new($"{block}.downsample.0", $"{block}.downsample.1", 2));
            }
        return (main, shortcuts);
    }

    /// <summary>Every tensor name of the backbone (convs and batch norms, no num_batches_tracked), main path first.</summary>
    public static IEnumerable<string> BackboneTensors(IReadOnlyList<int> blocks)
    {
        var (main, shortcuts) = Convs(blocks);
        foreach (ResNetConv conv in main.Concat(shortcuts))
        {
            yield return conv.Conv + ".weight";
            foreach (string tensor in NormTensors)
                yield return $"{conv.Norm}.{tensor}";
        }
    }

    /// <summary>
    /// A conv with a bias and no batch norm after it (torch.onnx.export folds eval-mode BN into the conv; so do our
    /// exports), written as the batch norm that adds exactly that bias: γ = 1, β = bias, mean = 0, var = 1 − ε, so that
    /// (x − 0) / √(1 − ε + ε) · 1 + β = x + β.
    /// </summary>
    public static IEnumerable<(string Tensor, float[] Values)> BiasAsNorm(string norm, float[] bias, double epsilon)
    {
        int n = bias.Length;
        yield return ($"{norm}.weight", Enumerable.Repeat(1f, n).ToArray());
        yield return ($"{norm}.bias", (float[])bias.Clone());
        yield return ($"{norm}.running_mean", new float[n]);
        yield return ($"{norm}.running_var", Enumerable.Repeat((float)(1 - epsilon), n).ToArray());
    }
}
