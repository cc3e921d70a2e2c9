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
    /// <param name="readRgb">Reverse a BGR source's first convolution to read RGB (false: keep the source's channel order).</param>
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
            if (reverse && name == "conv1.weight")
            {
                using var flipped = values.flip(1);
                target.copy_(flipped);
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
    /// The engine's input normalisation for a network filled by <see cref="Apply"/> (reading RGB): the source's preprocessing
    /// on pixels that <paramref name="dataScale"/> maps to 0–1 (1/255 for ExtractPixels' 0–255 values).
    /// </summary>
    public static Data.Normalization Normalization(PretrainedWeights weights, float dataScale)
    {
        var rgb = weights.Preprocessing.InRgb();
        return new Data.Normalization(dataScale * rgb.ScaleFrom01, rgb.Mean, rgb.Std);
    }

    private static string Label(string name, PretrainedTensor source) =>
        source.Origin is null ? $"tensor '{name}'" : $"{source.Origin} (for '{name}')";

    private static InvalidDataException Invalid(PretrainedWeights weights, string found) =>
        new($"Cannot start from the pretrained weights in '{weights.Source}' ({weights.Format}): found {found}.");
}
