using System.Globalization;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// The input contract and sparsity facts of an exported model, stored as <c>metadata_props</c> under keys starting with
/// <see cref="OnnxContractMetadata.Prefix"/> so that an inspector (or ML.NET / ORT's custom metadata map) can read them back.
/// </summary>
/// <param name="InputName">Graph input name.</param>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="ClassCount">Number of classes.</param>
/// <param name="PixelScale">Scale applied to raw pixels before normalisation.</param>
/// <param name="Mean">Per-channel mean.</param>
/// <param name="Std">Per-channel standard deviation.</param>
/// <param name="WeightEncoding">Requested weight encoding.</param>
/// <param name="Quantized">Whether the weights are stored as int8 with per-channel scales.</param>
/// <param name="ScoreOutputName">Softmax output name.</param>
/// <param name="PredictedIndexOutputName">Arg-max output name, or null.</param>
/// <param name="LogitsOutputName">Logits output name, or null.</param>
/// <param name="DenseLayers">Convolution and linear layers that are not pruned (kept dense by choice); every other one is.</param>
/// <param name="KeptWeights">Non-zero weights over the pruned layers as trained (before the dead-channel shrink).</param>
/// <param name="PrunableWeights">Weights of the pruned layers as trained (before the dead-channel shrink).</param>
/// <remarks>
/// Per-layer shapes and kept counts are not repeated here: the inspector reads them from the graph itself. What the
/// dead-channel shrink removed is listed in <see cref="Shrunk"/>, so that the graph's figures plus the removed ones give the
/// trained network's, which <see cref="KeptWeights"/> and <see cref="PrunableWeights"/> state.
/// </remarks>
internal sealed record OnnxContract(
    string InputName, int Channels, int Height, int Width, int ClassCount,
    float PixelScale, float[] Mean, float[] Std, OnnxWeightEncoding WeightEncoding, bool Quantized,
    string ScoreOutputName, string? PredictedIndexOutputName, string? LogitsOutputName,
    IReadOnlyList<string> DenseLayers, long KeptWeights, long PrunableWeights)
{
    /// <summary>The layers the dead-channel shrink changed, in graph order; empty when it changed none (or was off).</summary>
    public IReadOnlyList<OnnxShrunkLayer> Shrunk { get; init; } = [];

    /// <summary>Float parameters outside layer weights before the shrink (the bound counts them); null when nothing was shrunk.</summary>
    public long? OtherParametersBeforeShrink { get; init; }

    /// <summary>
    /// Fully quantised (<see cref="OnnxQuantization.Full"/>: uint8 activations through QuantizeLinear/DequantizeLinear): the
    /// number of calibration images their ranges come from; null for float activations.
    /// </summary>
    public int? CalibrationImages { get; init; }
}

/// <summary>What the dead-channel shrink removed from one layer, as stored in the metadata.</summary>
/// <param name="Layer">Layer (node) name.</param>
/// <param name="OutputChannels">Output channels (rows) removed.</param>
/// <param name="Inputs">Input slices removed: input channels of a Conv, input features of a Gemm.</param>
/// <param name="KeptWeights">Non-zero weights no longer stored (folded into biases or merged columns, or read by nothing).</param>
internal sealed record OnnxShrunkLayer(string Layer, long OutputChannels, long Inputs, long KeptWeights);

/// <summary>Writes and reads <see cref="OnnxContract"/> as string key/value pairs.</summary>
internal static class OnnxContractMetadata
{
    /// <summary>Prefix of every key written.</summary>
    public const string Prefix = "hypersparse.";

    /// <summary>Version of this key layout, written when the dead-channel shrink changed nothing (readable by every reader).</summary>
    public const string FormatVersion = "2";

    /// <summary>
    /// Version written when the shrink changed the network: adds the <c>shrink</c> key, and <c>kept</c> then states the
    /// trained network's figures, which only a reader of that key can reconcile with the graph.
    /// </summary>
    public const string ShrunkFormatVersion = "3";

    /// <summary>The contract as ordered key/value pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string>> ToProperties(OnnxContract contract)
    {
        bool shrunk = contract.Shrunk.Count > 0 || contract.OtherParametersBeforeShrink is not null;
        yield return new(Prefix + "format_version", shrunk ? ShrunkFormatVersion : FormatVersion);
        yield return new(Prefix + "input_name", contract.InputName);
        yield return new(Prefix + "input_shape", $"{contract.Channels},{contract.Height},{contract.Width}");
        yield return new(Prefix + "class_count", Invariant(contract.ClassCount));
        yield return new(Prefix + "pixel_scale", Invariant(contract.PixelScale));
        yield return new(Prefix + "mean", string.Join(",", contract.Mean.Select(Invariant)));
        yield return new(Prefix + "std", string.Join(",", contract.Std.Select(Invariant)));
        yield return new(Prefix + "weight_encoding", contract.WeightEncoding.ToString() + (contract.Quantized ? "+int8" : ""));
        yield return new(Prefix + "kept", $"{contract.KeptWeights}/{contract.PrunableWeights}");
        if (contract.CalibrationImages is { } images)
            yield return new(Prefix + "activations", "uint8;" + Invariant(images));
        if (contract.DenseLayers.Count > 0)
            yield return new(Prefix + "dense_layers", string.Join(",", contract.DenseLayers));
        // One compact entry (metadata costs file bytes): "other;layer:outputs/inputs/kept,..." — the other parameters before
        // the shrink, then what each changed layer lost.
        if (shrunk)
            yield return new(Prefix + "shrink", string.Create(CultureInfo.InvariantCulture, $"{contract.OtherParametersBeforeShrink ?? 0};") +
                string.Join(",", contract.Shrunk.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Layer}:{l.OutputChannels}/{l.Inputs}/{l.KeptWeights}"))));
        yield return new(Prefix + "output.score", contract.ScoreOutputName);
        if (contract.PredictedIndexOutputName is not null)
            yield return new(Prefix + "output.predicted_index", contract.PredictedIndexOutputName);
        if (contract.LogitsOutputName is not null)
            yield return new(Prefix + "output.logits", contract.LogitsOutputName);
    }

    /// <summary>Reads a contract back from metadata (e.g. ORT's <c>ModelMetadata.CustomMetadataMap</c>).</summary>
    /// <exception cref="FormatException">A key is missing or a value does not parse; the message names the key.</exception>
    public static OnnxContract Read(IReadOnlyDictionary<string, string> properties)
    {
        string Get(string key) => properties.TryGetValue(Prefix + key, out string? value)
            ? value
            : throw new FormatException($"ONNX metadata key '{Prefix + key}': expected present, found missing.");
        string? Optional(string key) => properties.GetValueOrDefault(Prefix + key);

        if (Get("format_version") is not (FormatVersion or ShrunkFormatVersion))
            throw new FormatException($"ONNX metadata key '{Prefix}format_version': expected {FormatVersion} or {ShrunkFormatVersion}, found {Get("format_version")}.");
        int[] chw = Get("input_shape").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (chw.Length != 3)
            throw new FormatException($"ONNX metadata key '{Prefix}input_shape': expected C,H,W, found '{Get("input_shape")}'.");

        string encoding = Get("weight_encoding");
        bool quantized = encoding.EndsWith("+int8", StringComparison.Ordinal);
        string[] kept = Get("kept").Split('/');
        if (kept.Length != 2)
            throw new FormatException($"ONNX metadata key '{Prefix}kept': expected kept/total, found '{Get("kept")}'.");
        string? dense = Optional("dense_layers");

        return new OnnxContract(
            Get("input_name"), chw[0], chw[1], chw[2],
            int.Parse(Get("class_count"), CultureInfo.InvariantCulture),
            float.Parse(Get("pixel_scale"), CultureInfo.InvariantCulture),
            ParseFloats(Get("mean")), ParseFloats(Get("std")),
            Enum.Parse<OnnxWeightEncoding>(quantized ? encoding[..^"+int8".Length] : encoding), quantized,
            Get("output.score"), Optional("output.predicted_index"), Optional("output.logits"),
            string.IsNullOrEmpty(dense) ? [] : dense.Split(','),
            long.Parse(kept[0], CultureInfo.InvariantCulture), long.Parse(kept[1], CultureInfo.InvariantCulture))
        {
            Shrunk = Optional("shrink") is { } shrink ? ParseShrunk(shrink) : [],
            OtherParametersBeforeShrink = Optional("shrink") is { } value ? ParseOther(value) : null,
            CalibrationImages = Optional("activations") is { } activations ? ParseActivations(activations) : null,
        };
    }

    private static int ParseActivations(string value)
    {
        if (!value.StartsWith("uint8;", StringComparison.Ordinal)
            || !int.TryParse(value.AsSpan("uint8;".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int images))
            throw new FormatException($"ONNX metadata key '{Prefix}activations': expected uint8;<calibration images>, found '{value}'.");
        return images;
    }

    private static long ParseOther(string value)
    {
        int semicolon = value.IndexOf(';');
        if (semicolon <= 0 || !long.TryParse(value.AsSpan(0, semicolon), NumberStyles.None, CultureInfo.InvariantCulture, out long other))
            throw new FormatException($"ONNX metadata key '{Prefix}shrink': expected other-parameter count;layer:outputs/inputs/kept,..., found '{value}'.");
        return other;
    }

    private static IReadOnlyList<OnnxShrunkLayer> ParseShrunk(string value)
    {
        string entries = value[(value.IndexOf(';') + 1)..];
        var layers = new List<OnnxShrunkLayer>();
        foreach (string entry in entries.Length == 0 ? [] : entries.Split(','))
        {
            // The layer name may itself hold ':'; the counts follow the last one.
            int colon = entry.LastIndexOf(':');
            string[] counts = colon < 0 ? [] : entry[(colon + 1)..].Split('/');
            if (colon <= 0 || counts.Length != 3)
                throw new FormatException($"ONNX metadata key '{Prefix}shrink': expected layer:outputs/inputs/kept entries, found '{entry}'.");
            long Count(string s) => long.Parse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            layers.Add(new OnnxShrunkLayer(entry[..colon], Count(counts[0]), Count(counts[1]), Count(counts[2])));
        }

        return layers;
    }

    private static float[] ParseFloats(string value) =>
        value.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    // .NET's default float formatting is the shortest string that round-trips.
    private static string Invariant(float value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
