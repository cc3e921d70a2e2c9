using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.HyperSparse.Onnx;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// One layer of a model file that reads a stored weight (Conv, ConvTranspose, Gemm or MatMul), read from the graph. The
/// same names as <see cref="HyperSparseLayer"/> of the training report: <c>Shipped…</c> is what the file holds, <c>Trained…</c>
/// what training produced (they differ by what the exporter's dead-channel shrink removed).
/// </summary>
public sealed class HyperSparseModelLayer
{
    /// <summary>
    /// The layer's weight parameter: for a HyperSparse model the name in <see cref="HyperSparseTrainingReport.Layers"/> (the node
    /// name + ".weight", e.g. "layer2.0.conv1.weight"; the file's own tensor names are short); for another tool's file the weight
    /// tensor's name.
    /// </summary>
    public required string Name { get; init; }
    /// <summary>The operator node's name (e.g. "layer2.0.conv1").</summary>
    public required string Node { get; init; }
    /// <summary>The ONNX operator reading the weight, e.g. "Conv" or "Gemm".</summary>
    public required string Op { get; init; }
    /// <summary>Weight shape in the file, e.g. [O, I, kH, kW] or [O, I].</summary>
    public required long[] ShippedShape { get; init; }
    /// <summary>Number of weights in the file.</summary>
    public required long ShippedTotal { get; init; }
    /// <summary>Non-zero weights in the file, counted in the decoded weight.</summary>
    public required long ShippedKept { get; init; }
    /// <summary>1 − <see cref="ShippedKept"/>/<see cref="ShippedTotal"/>.</summary>
    public double ShippedSparsity => ShippedTotal == 0 ? 0 : 1.0 - (double)ShippedKept / ShippedTotal;
    /// <summary>
    /// Weight shape as trained, before the exporter removed dead channels
    /// (<see cref="HyperSparseClassificationTrainer.Options.ShrinkDeadChannels"/>); from the file's metadata, equal to
    /// <see cref="ShippedShape"/> when nothing was removed (or the file has no HyperSparse metadata).
    /// </summary>
    public required long[] TrainedShape { get; init; }
    /// <summary>Number of weights as trained.</summary>
    public long TrainedTotal => TrainedShape.Aggregate(1L, (a, b) => a * b);
    /// <summary>Non-zero weights as trained: <see cref="ShippedKept"/> plus those the shrink removed (folded into biases or merged, or read by nothing).</summary>
    public required long TrainedKept { get; init; }
    /// <summary>1 − <see cref="TrainedKept"/>/<see cref="TrainedTotal"/>.</summary>
    public double TrainedSparsity => TrainedTotal == 0 ? 0 : 1.0 - (double)TrainedKept / TrainedTotal;
    /// <summary>
    /// How the weight is stored: "Dense" (a float initializer), "SparseInitializer" (a sparse tensor) or "Compact" (rebuilt in
    /// the graph from constants, e.g. kept values and gaps), with "+int8" when the stored values are int8 (rescaled per output
    /// channel in the graph).
    /// </summary>
    public required string Encoding { get; init; }
    /// <summary>
    /// Bytes the weight takes in the file: its own initializers and the nodes that rebuild it, plus its share of what several
    /// layers are rebuilt from together (the Compact value tensor, gap stream and decode chain), in proportion to their kept weights.
    /// </summary>
    public required long OnnxBytes { get; init; }
    /// <summary>
    /// True for a layer kept dense — excluded from pruning with <see cref="HyperSparseClassificationTrainer.Options.KeepDenseLayers"/>
    /// (per the file's HyperSparse metadata; false for every layer of a file without that metadata) — which is then left out of
    /// <see cref="HyperSparseModelInfo.PrunableWeights"/> and <see cref="HyperSparseModelInfo.KeptWeights"/>.
    /// </summary>
    public required bool KeptDense { get; init; }
    /// <summary>
    /// Information bound of the weight as trained: N·H(kept/N)/8 + 4·kept bytes for a pruned layer, 4·N otherwise, with N and
    /// kept from <see cref="TrainedShape"/> and <see cref="TrainedKept"/>.
    /// </summary>
    public required double BoundBytes { get; init; }
    /// <summary>Output channels (output features of a Gemm) the exporter's dead-channel shrink removed.</summary>
    public long OutputChannelsRemoved => TrainedShape[0] - ShippedShape[0];
    /// <summary>Input channels (input features of a Gemm) the exporter's dead-channel shrink removed.</summary>
    public long InputChannelsRemoved => TrainedShape.Length > 1 ? TrainedShape[1] - ShippedShape[1] : 0;
}

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
/// supplies the normalisation constants, which layers are pruned and what the exporter's dead-channel shrink removed, and is
/// checked against the graph; each disagreement is listed in <see cref="Warnings"/>. For a HyperSparse model the figures
/// equal those of <see cref="HyperSparseTrainingReport"/> for the same model under the same names: the file's
/// <see cref="HyperSparseModelLayer.ShippedShape"/> and <see cref="HyperSparseModelLayer.ShippedKept"/> (the report's
/// <see cref="HyperSparseLayer.ShippedShape"/>, <see cref="HyperSparseLayer.ShippedKept"/>), the trained
/// <see cref="HyperSparseModelLayer.TrainedShape"/>, <see cref="HyperSparseModelLayer.TrainedKept"/>,
/// <see cref="TrainedPrunableWeights"/> and <see cref="TrainedKeptWeights"/>.</para>
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
        Layers = inspection.Layers.Select(l => new HyperSparseModelLayer
        {
            Name = inspection.Contract is null ? l.WeightName : l.NodeName + ".weight",
            Node = l.NodeName,
            Op = l.Size.OpType,
            ShippedShape = l.Size.Shape,
            ShippedTotal = l.Size.ParameterCount,
            ShippedKept = l.Size.KeptCount,
            TrainedShape = l.Size.OriginalShape,
            TrainedKept = l.Size.OriginalKeptCount,
            Encoding = l.Size.Encoding + (l.Size.Quantized ? "+int8" : ""),
            OnnxBytes = l.Size.WeightBytes,
            KeptDense = !l.Size.Prunable,
            BoundBytes = l.Size.BoundBytes,
        }).ToArray();
        PrunableWeights = Layers.Where(l => !l.KeptDense).Sum(l => l.ShippedTotal);
        KeptWeights = Layers.Where(l => !l.KeptDense).Sum(l => l.ShippedKept);
        TrainedPrunableWeights = inspection.Size.Layers.Where(l => l.Prunable).Sum(l => l.OriginalParameterCount);
        TrainedKeptWeights = Layers.Where(l => !l.KeptDense).Sum(l => l.TrainedKept);
        OtherParameters = inspection.Size.OtherParameterCount;
        TrainedOtherParameters = inspection.Size.OriginalOtherParameterCount;
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

    /// <summary>Weights in the pruned (prunable) layers, as the file holds them (after the dead-channel shrink).</summary>
    public long PrunableWeights { get; }

    /// <summary>Non-zero weights in the pruned layers, as the file holds them.</summary>
    public long KeptWeights { get; }

    /// <summary>Fraction of the pruned layers' weights in the file that are zero.</summary>
    public double Sparsity => PrunableWeights == 0 ? 0 : 1.0 - (double)KeptWeights / PrunableWeights;

    /// <summary>
    /// Weights in the pruned layers as trained, before the exporter removed dead channels: <see cref="PrunableWeights"/> plus
    /// the removed ones (N in <see cref="HyperSparseTrainingReport.PrunableWeights"/>).
    /// </summary>
    public long TrainedPrunableWeights { get; }

    /// <summary>Non-zero weights in the pruned layers as trained (<see cref="HyperSparseTrainingReport.KeptWeights"/>).</summary>
    public long TrainedKeptWeights { get; }

    /// <summary>Fraction of the pruned layers' weights that are zero as trained (<see cref="HyperSparseTrainingReport.AchievedSparsity"/>).</summary>
    public double TrainedSparsity => TrainedPrunableWeights == 0 ? 0 : 1.0 - (double)TrainedKeptWeights / TrainedPrunableWeights;

    /// <summary>Float parameters outside layer weights in the file: biases, unfolded batch norms, normalisation constants.</summary>
    public long OtherParameters { get; }

    /// <summary>Float parameters outside layer weights before the dead-channel shrink (what <see cref="BoundBytes"/> counts).</summary>
    public long TrainedOtherParameters { get; }

    /// <summary>Size of the ONNX model in bytes (inside a zip: the ONNX bytes, not the zip).</summary>
    public long OnnxBytes { get; }

    /// <summary>Size the same model (the network the file holds) takes with every weight stored as a plain float initializer.</summary>
    public long DenseOnnxBytes { get; }

    /// <summary>
    /// Information bound in bytes, as the exporter defines it, of the network as trained (before the dead-channel shrink):
    /// N·H(1−κ)/8 + 4·nnz over the pruned layers together, plus 4 bytes per weight of the other layers and per other parameter.
    /// A file whose dead channels were removed stores fewer weights than that and can come out below it.
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
        // The size is checked before anything is read: a FIFO or device reports 0 bytes (and would block or never end), and
        // a file larger than ONNX's 2 GiB protobuf limit cannot be a model.
        long length = new FileInfo(full).Length;
        if (length == 0)
            throw new InvalidDataException($"Cannot inspect '{full}': expected a .onnx file or an ML.NET model .zip, found an empty file (0 bytes; a FIFO or a device reports 0 bytes too, and is not read).");
        if (length > MaxModelBytes)
            throw new InvalidDataException($"Cannot inspect '{full}': expected a model of at most {MaxModelBytes:N0} bytes (ONNX's 2 GiB limit), found {length:N0} bytes.");
        using var file = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        return FromBytes(ReadBounded(file, full, length), full);
    }

    /// <summary>The largest model file or zip entry read: 2 GiB − 1 bytes, ONNX's protobuf limit.</summary>
    public const long MaxModelBytes = int.MaxValue;

    /// <summary>Reads a stream to its end, failing (naming <paramref name="source"/>) past <see cref="MaxModelBytes"/>.</summary>
    internal static byte[] ReadBounded(Stream stream, string source, long expected = 0)
    {
        using var copy = new MemoryStream((int)Math.Min(Math.Max(expected, 0), MaxModelBytes));
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (copy.Length + read > MaxModelBytes)
                throw new InvalidDataException($"Cannot inspect '{source}': expected a model of at most {MaxModelBytes:N0} bytes (ONNX's 2 GiB limit), found more.");
            copy.Write(buffer, 0, read);
        }
        return copy.ToArray();
    }

    /// <summary>Reads an ONNX model or an ML.NET model zip from a stream (read to its end; not closed).</summary>
    /// <param name="stream">A readable stream positioned at the start of the model.</param>
    /// <exception cref="InvalidDataException">The content is not an ONNX model or a zip holding one, or it is truncated or corrupt.</exception>
    public static HyperSparseModelInfo Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
            throw new ArgumentException("Cannot inspect the stream: expected a readable stream, found one that cannot be read.", nameof(stream));
        return FromBytes(ReadBounded(stream, "stream"), "stream");
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
