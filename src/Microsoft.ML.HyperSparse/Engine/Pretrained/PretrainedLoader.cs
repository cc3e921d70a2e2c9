using Microsoft.ML.HyperSparse.Engine.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>What <see cref="PretrainedLoader.Apply"/> copied and what it left at its initialisation.</summary>
/// <param name="LoadedTensors">Parameters and batch-norm statistics copied from the source.</param>
/// <param name="LoadedWeights">Scalars in those tensors.</param>
/// <param name="NewLayers">Layers that keep their fresh initialisation (the classifier when it was replaced).</param>
/// <param name="ReversedChannels">True when the source read BGR planes and the first convolution's input channels were reversed to read RGB.</param>
internal sealed record PretrainedLoad(int LoadedTensors, long LoadedWeights, IReadOnlyList<string> NewLayers, bool ReversedChannels);

/// <summary>Copies <see cref="PretrainedWeights"/> into an <see cref="ImageNetResNet"/>, by name, checking every shape.</summary>
internal static class PretrainedLoader
{
    /// <summary>The classifier's tensors: replaced for the user's classes unless kept.</summary>
    public static readonly IReadOnlyList<string> HeadTensors = ["fc.weight", "fc.bias"];

    /// <summary>
    /// Copies every backbone tensor (and the classifier when <paramref name="keepHead"/>) into <paramref name="model"/>. A BGR
    /// source's first convolution is copied with its input channels reversed, so the model reads RGB planes
    /// (<see cref="PretrainedPreprocessing.InRgb"/> gives the matching normalisation).
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has another shape; the message names the source file, the tensor and both shapes.</exception>
    /// <param name="model">The network to fill.</param>
    /// <param name="weights">The source's tensors.</param>
    /// <param name="keepHead">Copy the classifier too (the source's classes are the data's).</param>
    /// <param name="readRgb">Make the first convolution read what <see cref="Normalization"/> gives: RGB planes at unit scale
    /// (false: keep the source's weights as they are, for its own preprocessing).</param>
    public static PretrainedLoad Apply(ImageNetResNet model, PretrainedWeights weights, bool keepHead, bool readRgb = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(weights);
        if (!model.BlocksPerStage.SequenceEqual(weights.Blocks))
            throw Invalid(weights, $"a ResNet with blocks [{string.Join(", ", weights.Blocks)}]; the network to fill has [{string.Join(", ", model.BlocksPerStage)}]");
        if (model.Input.Channels != weights.InputChannels)
            throw Invalid(weights, $"a first convolution reading {weights.InputChannels} channels; the network to fill reads {model.Input.Channels}");
        if (keepHead && weights.ClassCount is null)
            throw Invalid(weights, "no classifier (fc.weight), so it cannot be kept; let the classifier be replaced");
        if (keepHead && weights.ClassCount != model.ClassCount)
            throw Invalid(weights, $"a classifier for {weights.ClassCount} classes; the data has {model.ClassCount}, so the classifier cannot be kept");

        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, parameter) in model.named_parameters()) targets[name] = parameter;
        foreach (var (name, buffer) in model.named_buffers())
            if (!name.EndsWith(".num_batches_tracked", StringComparison.Ordinal)) targets[name] = buffer;

        bool reverse = readRgb && weights.Preprocessing.Order == ChannelOrder.Bgr && model.Input.Channels > 1;
        int loaded = 0;
        long scalars = 0;
        using var _ = no_grad();
        foreach (var (name, target) in targets)
        {
            if (!keepHead && HeadTensors.Contains(name)) continue;
            if (!weights.Tensors.TryGetValue(name, out PretrainedTensor? source))
                throw Invalid(weights, $"no tensor '{name}', which a ResNet with blocks [{string.Join(", ", weights.Blocks)}] needs");
            long[] expected = target.shape;
            if (!source.Shape.SequenceEqual(expected))
                throw Invalid(weights, $"{Label(name, source)} of shape [{string.Join(", ", source.Shape)}]; the network expects [{string.Join(", ", expected)}]");
            if (source.Values.LongLength != source.Count)
                throw Invalid(weights, $"{Label(name, source)} holding {source.Values.LongLength:N0} values for shape [{string.Join(", ", source.Shape)}] ({source.Count:N0})");
            using var values = tensor(source.Values, expected);
            if (readRgb && name == "conv1.weight")
            {
                // RGB planes at unit scale (see InputGains): the same function, with weights of the size the regulariser expects.
                using var ordered = reverse ? values.flip(1) : values.alias();
                using var gains = tensor(InputGains(weights), [1, source.Shape[1], 1, 1]);
                using var scaled = ordered.mul(gains);
                target.copy_(scaled);
            }
            else
            {
                target.copy_(values);
            }
            loaded++;
            scalars += source.Count;
        }
        IReadOnlyList<string> fresh = keepHead ? [] : ["fc"];
        return new PretrainedLoad(loaded, scalars, fresh, reverse);
    }

    /// <summary>
    /// The engine's input normalisation for a network filled by <see cref="Apply"/> (reading RGB): per channel
    /// <c>v = (x01 − Mean/ScaleFrom01) / σ_c</c> with torchvision's ImageNet std σ (0.229, 0.224, 0.225), on pixels that
    /// <paramref name="dataScale"/> maps to 0–1 (1/255 for ExtractPixels' 0–255 values).
    /// </summary>
    /// <remarks>
    /// The source's input is <c>u = (x01·S − m)/s = (S·σ/s)·v</c>, so <see cref="Apply"/> multiplies the first convolution's
    /// input channel c by <c>S·σ_c/s_c</c> (<see cref="InputGains"/>; zero padding of u and of v agree): the same network. It
    /// matters for training, not for the function: ML.NET's ResNet-18 reads 0–255 values, so its stem weights are ≈ 58× smaller
    /// than for unit-scale input, and the regulariser's push (the same size for every weight) collapsed them within one ART
    /// epoch at λ = 0.01 (the loss went to NaN); with the rescaled stem it did not. For torchvision's networks the gains are 1.
    /// </remarks>
    public static Data.Normalization Normalization(PretrainedWeights weights, float dataScale)
    {
        var rgb = weights.Preprocessing.InRgb();
        float[] std = UnitStd(rgb.Mean.Length);
        return new Data.Normalization(dataScale, rgb.Mean.Select(m => m / rgb.ScaleFrom01).ToArray(), std);
    }

    /// <summary>Per input channel (RGB order) of the first convolution: <c>S·σ_c/s_c</c> (see <see cref="Normalization"/>).</summary>
    internal static float[] InputGains(PretrainedWeights weights)
    {
        var rgb = weights.Preprocessing.InRgb();
        float[] std = UnitStd(rgb.Std.Length);
        return rgb.Std.Select((s, c) => rgb.ScaleFrom01 * std[c] / s).ToArray();
    }

    /// <summary>torchvision's ImageNet std per RGB channel (their mean for one channel).</summary>
    private static float[] UnitStd(int channels) => channels == 3
        ? PretrainedPreprocessing.TorchvisionImageNet.Std.ToArray()
        : Enumerable.Repeat(PretrainedPreprocessing.TorchvisionImageNet.Std.Average(), channels).ToArray();

    private static string Label(string name, PretrainedTensor source) =>
        source.Origin is null ? $"tensor '{name}'" : $"{source.Origin} (for '{name}')";

    private static InvalidDataException Invalid(PretrainedWeights weights, string found) =>
        new($"Cannot start from the pretrained weights in '{weights.Source}' ({weights.Format}): found {found}.");
}
