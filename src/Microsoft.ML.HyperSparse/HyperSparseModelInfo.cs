using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse;

/// <summary>One layer of a model file that reads a stored weight (Conv, ConvTranspose, Gemm or MatMul), read from the graph.</summary>
/// <param name="Name">The layer's weight parameter: for a HyperSparse model the name in <see cref="HyperSparseTrainingReport.Layers"/>
/// (the node name + ".weight", e.g. "layer2.0.conv1.weight"; the file's own tensor names are short); for another tool's file
/// the weight tensor's name.</param>
/// <param name="Node">The operator node's name (e.g. "layer2.0.conv1").</param>
/// <param name="Op">The ONNX operator reading the weight, e.g. "Conv" or "Gemm".</param>
/// <param name="Shape">Weight shape, e.g. [O, I, kH, kW] or [O, I].</param>
/// <param name="Total">Number of weights.</param>
/// <param name="Kept">Non-zero weights, counted in the decoded weight.</param>
/// <param name="Sparsity">1 − Kept/Total.</param>
/// <param name="Encoding">How the weight is stored: "Dense" (a float initializer), "SparseInitializer" (a sparse tensor) or
/// "Compact" (rebuilt in the graph from constants, e.g. kept values and gaps), with "+int8" when the stored values are int8
/// (rescaled per output channel in the graph).</param>
/// <param name="OnnxBytes">Bytes the weight takes in the file: its own initializers and the nodes that rebuild it, plus its share
/// of what several layers are rebuilt from together (the Compact value tensor, gap stream and decode chain), divided in
/// proportion to their kept weights.</param>
/// <param name="Prunable">Whether the layer is one of the pruned ones (per the file's HyperSparse metadata; every layer in a
/// file without that metadata). False for a layer kept dense — excluded from pruning with
/// <see cref="HyperSparseClassificationTrainer.Options.KeepDenseLayers"/> — which is then left out of
/// <see cref="HyperSparseModelInfo.PrunableWeights"/> and <see cref="HyperSparseModelInfo.KeptWeights"/>.</param>
/// <param name="BoundBytes">Information bound of the weight: N·H(1−Sparsity)/8 + 4·Kept bytes for a pruned layer, 4·N otherwise.</param>
public sealed record HyperSparseModelLayer(string Name, string Node, string Op, long[] Shape, long Total, long Kept, double Sparsity,
    string Encoding, long OnnxBytes, bool Prunable, double BoundBytes);

/// <summary>What a model file expects as input and gives as output.</summary>
/// <param name="InputName">Name of the image input (for a HyperSparse model the feature column it was trained on).</param>
/// <param name="InputShape">Input dimensions, e.g. ["batch", "1", "28", "28"]: float pixels in C×H×W order.</param>
/// <param name="PixelScale">Factor applied to raw pixels inside the model (e.g. 1/255), or null when unknown (not a HyperSparse model).</param>
/// <param name="Mean">Per-channel mean subtracted inside the model after scaling, or null when unknown.</param>
/// <param name="Std">Per-channel standard deviation divided by inside the model, or null when unknown.</param>
/// <param name="ClassCount">Number of classes, or null when unknown.</param>
/// <param name="ScoreOutputName">The softmax output, or null when unknown.</param>
/// <param name="PredictedIndexOutputName">The arg-max output, or null when there is none (or unknown).</param>
/// <param name="LogitsOutputName">The logits output, or null when there is none (or unknown).</param>
/// <param name="OutputNames">Every graph output.</param>
public sealed record HyperSparseModelContract(string InputName, IReadOnlyList<string> InputShape, float? PixelScale,
    IReadOnlyList<float>? Mean, IReadOnlyList<float>? Std, int? ClassCount, string? ScoreOutputName, string? PredictedIndexOutputName,
    string? LogitsOutputName, IReadOnlyList<string> OutputNames);

/// <summary>
/// What a model file ships, read from the file alone (no TorchSharp, no training log): per layer its shape, kept weights,
/// sparsity, storage encoding and bytes; the totals against the dense file and the information bound; and the input
/// contract. Reads a <c>.onnx</c> file or an ML.NET <c>model.zip</c> (the ONNX model inside it).
/// </summary>
/// <remarks>
/// <para>The per-layer figures come from the graph itself: every weight is decoded (dense initializers, sparse Constant
/// nodes, in-graph decode chains such as the Compact gap code) and its non-zeros counted. The file's HyperSparse metadata
/// supplies the normalisation constants and which layers are pruned, and is checked against the graph; each disagreement
/// is listed in <see cref="Warnings"/>. For a HyperSparse model the figures equal those of
/// <see cref="HyperSparseTrainingReport"/> for the same model.</para>
/// <para>A file written by another tool is read as far as possible: its layers and sizes are reported, the contract has
/// only what the graph states, and <see cref="IsHyperSparseModel"/> is false.</para>
/// </remarks>
/// <example>
/// <code>
/// var info = HyperSparseModelInfo.Read("model.zip");
/// Console.WriteLine(info); // a table: layers, totals, bound, input contract
/// </code>
/// </example>
public sealed partial class HyperSparseModelInfo
{
    private HyperSparseModelInfo(string source, string? zipEntry, OnnxInspection inspection, IEnumerable<string> extraWarnings)
    {
        Source = source;
        ZipEntry = zipEntry;
        IsHyperSparseModel = inspection.Contract is not null;
        Producer = (inspection.ProducerName + " " + inspection.ProducerVersion).Trim();
        IrVersion = inspection.IrVersion;
        OpsetVersion = inspection.OpsetVersion;
        Layers = inspection.Layers.Select(l => new HyperSparseModelLayer(
            inspection.Contract is null ? l.WeightName : l.NodeName + ".weight", l.NodeName, l.Size.OpType, l.Size.Shape, l.Size.ParameterCount, l.Size.KeptCount,
            l.Size.ParameterCount == 0 ? 0 : 1.0 - (double)l.Size.KeptCount / l.Size.ParameterCount,
            l.Size.Encoding + (l.Size.Quantized ? "+int8" : ""), l.Size.WeightBytes, l.Size.Prunable, l.Size.BoundBytes)).ToArray();
        PrunableWeights = Layers.Where(l => l.Prunable).Sum(l => l.Total);
        KeptWeights = Layers.Where(l => l.Prunable).Sum(l => l.Kept);
        OtherParameters = inspection.Size.OtherParameterCount;
        OnnxBytes = inspection.Size.ShippedBytes;
        DenseOnnxBytes = inspection.Size.DenseBytes;
        BoundBytes = inspection.Size.BoundBytes;
        Contract = ContractOf(inspection);
        Warnings = extraWarnings.Concat(inspection.Warnings).ToArray();
    }

    /// <summary>The file (full path) or "stream" the model was read from.</summary>
    public string Source { get; }

    /// <summary>The zip entry holding the ONNX model (e.g. "TransformerChain/Transform_000/OnnxModel"), or null for a plain ONNX file.</summary>
    public string? ZipEntry { get; }

    /// <summary>Whether the file carries readable HyperSparse metadata (written by this library).</summary>
    public bool IsHyperSparseModel { get; }

    /// <summary>The ONNX producer name and version.</summary>
    public string Producer { get; }

    /// <summary>ONNX IR version of the file.</summary>
    public long IrVersion { get; }

    /// <summary>Default-domain opset version of the file.</summary>
    public long OpsetVersion { get; }

    /// <summary>Every layer with a stored weight, in graph order (pruned ones and, e.g., a classifier kept dense).</summary>
    public IReadOnlyList<HyperSparseModelLayer> Layers { get; }

    /// <summary>Weights in the pruned (prunable) layers.</summary>
    public long PrunableWeights { get; }

    /// <summary>Non-zero weights in the pruned layers.</summary>
    public long KeptWeights { get; }

    /// <summary>Fraction of the pruned layers' weights that are zero.</summary>
    public double Sparsity => PrunableWeights == 0 ? 0 : 1.0 - (double)KeptWeights / PrunableWeights;

    /// <summary>Float parameters outside layer weights: biases, unfolded batch norms, normalisation constants.</summary>
    public long OtherParameters { get; }

    /// <summary>Size of the ONNX model in bytes (inside a zip: the ONNX bytes, not the zip).</summary>
    public long OnnxBytes { get; }

    /// <summary>Size the same model takes with every weight stored as a plain float initializer.</summary>
    public long DenseOnnxBytes { get; }

    /// <summary>
    /// Information bound in bytes, as the exporter defines it: Σ over pruned layers N·H(1−κ)/8 + 4·nnz, plus 4 bytes per weight
    /// of the other layers and per other parameter.
    /// </summary>
    public double BoundBytes { get; }

    /// <summary>The input contract: input name and shape, normalisation baked in, classes, outputs.</summary>
    public HyperSparseModelContract Contract { get; }

    /// <summary>What could not be read, and every disagreement between the file's metadata and its graph; empty for a sound HyperSparse file.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Everything above as indented JSON (property names as in this class; numbers in the invariant form).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Reads a <c>.onnx</c> file or an ML.NET <c>model.zip</c> (recognised by its content, not its extension).</summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/> (or it is a folder).</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model or a zip holding one, or it is truncated or corrupt;
    /// the message says what was found.</exception>
    public static HyperSparseModelInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new FileNotFoundException($"Cannot inspect '{full}': expected a .onnx file or an ML.NET model .zip, found a folder.", full);
        if (!File.Exists(full))
            throw new FileNotFoundException($"Cannot inspect '{full}': expected a .onnx file or an ML.NET model .zip, found no such file.", full);
        return FromBytes(File.ReadAllBytes(full), full);
    }

    /// <summary>Reads an ONNX model or an ML.NET model zip from a stream (read to its end; not closed).</summary>
    /// <param name="stream">A readable stream positioned at the start of the model.</param>
    /// <exception cref="InvalidDataException">The content is not an ONNX model or a zip holding one, or it is truncated or corrupt.</exception>
    public static HyperSparseModelInfo Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
            throw new ArgumentException("Cannot inspect the stream: expected a readable stream, found one that cannot be read.", nameof(stream));
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return FromBytes(copy.ToArray(), "stream");
    }

    private static HyperSparseModelInfo FromBytes(byte[] bytes, string source)
    {
        if (!ModelZip.IsZip(bytes))
            return new HyperSparseModelInfo(source, null, OnnxModelInspector.Inspect(OnnxModelReader.Parse(bytes, source), bytes.LongLength), []);

        // An ML.NET chain may hold several ONNX transformers: inspect the HyperSparse one (the first, if several).
        var models = ModelZip.OnnxModels(bytes, source)
            .Select(m => (m.Entry, m.Onnx, Model: OnnxModelReader.Parse(m.Onnx, $"{source} → {m.Entry}")))
            .ToList();
        var chosen = models.FirstOrDefault(m => m.Model.MetadataProps.Any(p => p.Key.StartsWith(OnnxContractMetadata.Prefix, StringComparison.Ordinal)));
        if (chosen.Model is null)
            chosen = models[0];
        var others = models.Where(m => m.Entry != chosen.Entry).Select(m => $"'{m.Entry}'").ToList();
        string[] note = others.Count == 0 ? [] : [$"The zip holds {models.Count} ONNX models; this is '{chosen.Entry}', not {string.Join(", ", others)}."];
        return new HyperSparseModelInfo(source, chosen.Entry, OnnxModelInspector.Inspect(chosen.Model, chosen.Onnx.LongLength), note);
    }

    private static HyperSparseModelContract ContractOf(OnnxInspection inspection)
    {
        IReadOnlyList<string> outputs = inspection.Outputs.Select(o => o.Name).ToArray();
        if (inspection.Contract is { } c)
        {
            IReadOnlyList<string> shape = inspection.Inputs.FirstOrDefault(i => i.Name == c.InputName)?.Dims
                ?? ["batch", .. new[] { c.Channels, c.Height, c.Width }.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            return new HyperSparseModelContract(c.InputName, shape, c.PixelScale, c.Mean, c.Std, c.ClassCount,
                c.ScoreOutputName, c.PredictedIndexOutputName, c.LogitsOutputName, outputs);
        }

        // Without metadata: only what the graph states. The class count is the last dimension of the first output, when fixed.
        OnnxTensorInfo? input = inspection.Inputs.FirstOrDefault();
        int? classes = inspection.Outputs.FirstOrDefault()?.Dims.LastOrDefault() is { } last && int.TryParse(last, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n : null;
        return new HyperSparseModelContract(input?.Name ?? "", input?.Dims ?? [], null, null, null, classes, null, null, null, outputs);
    }
}
