using System.Globalization;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>One prunable layer as recorded in the model metadata.</summary>
/// <param name="Name">Layer name; its weight tensor is <c>{Name}.weight</c>.</param>
/// <param name="OpType">"Conv" or "Gemm".</param>
/// <param name="Shape">Weight shape.</param>
/// <param name="KeptCount">Non-zero weights.</param>
/// <param name="Encoding">Encoding used for this layer in the file.</param>
internal sealed record OnnxContractLayer(string Name, string OpType, long[] Shape, long KeptCount, OnnxWeightEncoding Encoding);

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
/// <param name="ScoreOutputName">Softmax output name.</param>
/// <param name="PredictedIndexOutputName">Arg-max output name, or null.</param>
/// <param name="LogitsOutputName">Logits output name, or null.</param>
/// <param name="PrunableLayers">Prunable layers in graph order.</param>
internal sealed record OnnxContract(
    string InputName, int Channels, int Height, int Width, int ClassCount,
    float PixelScale, float[] Mean, float[] Std, OnnxWeightEncoding WeightEncoding,
    string ScoreOutputName, string? PredictedIndexOutputName, string? LogitsOutputName,
    IReadOnlyList<OnnxContractLayer> PrunableLayers);

/// <summary>Writes and reads <see cref="OnnxContract"/> as string key/value pairs.</summary>
internal static class OnnxContractMetadata
{
    /// <summary>Prefix of every key written.</summary>
    public const string Prefix = "hypersparse.";

    /// <summary>Version of this key layout.</summary>
    public const string FormatVersion = "1";

    private const string LayerPrefix = Prefix + "layer.";

    /// <summary>The contract as ordered key/value pairs.</summary>
    public static IEnumerable<KeyValuePair<string, string>> ToProperties(OnnxContract contract)
    {
        yield return new(Prefix + "format_version", FormatVersion);
        yield return new(Prefix + "input_name", contract.InputName);
        yield return new(Prefix + "input_shape", $"{contract.Channels},{contract.Height},{contract.Width}");
        yield return new(Prefix + "class_count", Invariant(contract.ClassCount));
        yield return new(Prefix + "pixel_scale", Invariant(contract.PixelScale));
        yield return new(Prefix + "mean", string.Join(",", contract.Mean.Select(Invariant)));
        yield return new(Prefix + "std", string.Join(",", contract.Std.Select(Invariant)));
        yield return new(Prefix + "weight_encoding", contract.WeightEncoding.ToString());
        yield return new(Prefix + "output.score", contract.ScoreOutputName);
        if (contract.PredictedIndexOutputName is not null)
            yield return new(Prefix + "output.predicted_index", contract.PredictedIndexOutputName);
        if (contract.LogitsOutputName is not null)
            yield return new(Prefix + "output.logits", contract.LogitsOutputName);
        for (int i = 0; i < contract.PrunableLayers.Count; i++)
        {
            OnnxContractLayer layer = contract.PrunableLayers[i];
            yield return new(LayerPrefix + layer.Name,
                $"index={i};op={layer.OpType};shape={string.Join('x', layer.Shape)};kept={layer.KeptCount};encoding={layer.Encoding}");
        }
    }

    /// <summary>Reads a contract back from metadata (e.g. ORT's <c>ModelMetadata.CustomMetadataMap</c>).</summary>
    /// <exception cref="FormatException">A key is missing or a value does not parse; the message names the key.</exception>
    public static OnnxContract Read(IReadOnlyDictionary<string, string> properties)
    {
        string Get(string key) => properties.TryGetValue(Prefix + key, out string? value)
            ? value
            : throw new FormatException($"ONNX metadata key '{Prefix + key}': expected present, found missing.");
        string? Optional(string key) => properties.GetValueOrDefault(Prefix + key);

        if (Get("format_version") != FormatVersion)
            throw new FormatException($"ONNX metadata key '{Prefix}format_version': expected {FormatVersion}, found {Get("format_version")}.");
        int[] chw = Get("input_shape").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (chw.Length != 3)
            throw new FormatException($"ONNX metadata key '{Prefix}input_shape': expected C,H,W, found '{Get("input_shape")}'.");

        var layers = properties
            .Where(p => p.Key.StartsWith(LayerPrefix, StringComparison.Ordinal))
            .Select(p => (Fields: ParseFields(p.Key, p.Value), Name: p.Key[LayerPrefix.Length..]))
            .OrderBy(l => int.Parse(l.Fields["index"], CultureInfo.InvariantCulture))
            .Select(l => new OnnxContractLayer(
                l.Name,
                l.Fields["op"],
                l.Fields["shape"].Split('x').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
                long.Parse(l.Fields["kept"], CultureInfo.InvariantCulture),
                Enum.Parse<OnnxWeightEncoding>(l.Fields["encoding"])))
            .ToList();

        return new OnnxContract(
            Get("input_name"), chw[0], chw[1], chw[2],
            int.Parse(Get("class_count"), CultureInfo.InvariantCulture),
            float.Parse(Get("pixel_scale"), CultureInfo.InvariantCulture),
            ParseFloats(Get("mean")), ParseFloats(Get("std")),
            Enum.Parse<OnnxWeightEncoding>(Get("weight_encoding")),
            Get("output.score"), Optional("output.predicted_index"), Optional("output.logits"),
            layers);
    }

    private static Dictionary<string, string> ParseFields(string key, string value)
    {
        var fields = value.Split(';').Select(f => f.Split('=', 2)).ToList();
        if (fields.Any(f => f.Length != 2))
            throw new FormatException($"ONNX metadata key '{key}': expected name=value fields separated by ';', found '{value}'.");
        return fields.ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
    }

    private static float[] ParseFloats(string value) =>
        value.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    // .NET's default float formatting is the shortest string that round-trips.
    private static string Invariant(float value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
