namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>What one convolution or linear layer's weight costs in the written file.</summary>
/// <param name="Name">Layer (node) name; the weight tensor is <c>{Name}.weight</c>.</param>
/// <param name="OpType">ONNX operator reading the weight: "Conv" or "Gemm".</param>
/// <param name="Shape">Weight shape in the file ([O, I, kH, kW] or [O, I]), after the dead-channel shrink.</param>
/// <param name="Prunable">Whether the layer is one of the pruned ones (only those get a sparse encoding).</param>
/// <param name="KeptCount">Non-zero weights in the file (after batch-norm folding and the dead-channel shrink).</param>
/// <param name="Encoding">Encoding actually used (dense when that was smaller or the layer is not prunable).</param>
/// <param name="WeightBytes">Bytes the weight takes in the file: its own initializers and nodes, plus its share of entries
/// several layers are rebuilt from (see <see cref="OnnxLayerBytes"/>).</param>
/// <param name="Quantized">Whether the weight is stored as int8 levels with per-channel scales.</param>
internal sealed record OnnxLayerSize(
    string Name, string OpType, long[] Shape, bool Prunable, long KeptCount, OnnxWeightEncoding Encoding, long WeightBytes, bool Quantized = false)
{
    /// <summary>Weight shape before the dead-channel shrink (as trained); <see cref="Shape"/> when nothing was removed.</summary>
    public long[] OriginalShape { get; init; } = Shape;

    /// <summary>Non-zero weights before the dead-channel shrink (the trained mask's count); <see cref="KeptCount"/> when nothing was removed.</summary>
    public long OriginalKeptCount { get; init; } = KeptCount;

    /// <summary>Number of weight elements in the file.</summary>
    public long ParameterCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Number of weight elements before the dead-channel shrink.</summary>
    public long OriginalParameterCount => OriginalShape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Output channels (rows) the dead-channel shrink removed.</summary>
    public long OutputChannelsRemoved => OriginalShape[0] - Shape[0];

    /// <summary>Input slices the dead-channel shrink removed: input channels of a Conv, input features of a Gemm.</summary>
    public long InputsRemoved => OriginalShape.Length > 1 ? OriginalShape[1] - Shape[1] : 0;

    /// <summary>
    /// Information bound of this weight as trained (before the dead-channel shrink), in bytes: for a prunable layer
    /// N·H(p)/8 for the positions plus 4 bytes per kept value; for a dense layer 4 bytes per element.
    /// </summary>
    public double BoundBytes => Prunable
        ? OriginalParameterCount * OnnxSizeReport.BinaryEntropy((double)OriginalKeptCount / OriginalParameterCount) / 8 + 4.0 * OriginalKeptCount
        : 4.0 * OriginalParameterCount;
}

/// <summary>Size accounting of one export: the shipped file against the same network written dense and the information bound.</summary>
/// <param name="ShippedBytes">Size of the written file.</param>
/// <param name="DenseBytes">Size of the same network written with <see cref="OnnxWeightEncoding.Dense"/>.</param>
/// <param name="OtherParameterCount">Float parameters outside layer weights that end up in the file: biases (folded or not),
/// unfolded batch-norm parameters, normalisation constants.</param>
/// <param name="Layers">Every convolution and linear layer, in graph order.</param>
/// <remarks>
/// <see cref="DenseBytes"/> is the network the file holds (after the dead-channel shrink) written dense; <see cref="BoundBytes"/>
/// is about the network as trained (before the shrink), so it does not depend on the export options. A shrunk file stores
/// fewer weights than the trained mask and can therefore come out below the bound.
/// </remarks>
internal sealed record OnnxSizeReport(long ShippedBytes, long DenseBytes, long OtherParameterCount, IReadOnlyList<OnnxLayerSize> Layers)
{
    /// <summary>
    /// Other parameters before the dead-channel shrink (biases of removed channels, batch norms of removed channels, and no
    /// bias created by folding); <see cref="OtherParameterCount"/> when nothing was removed.
    /// </summary>
    public long OriginalOtherParameterCount { get; init; } = OtherParameterCount;

    /// <summary>
    /// The network as trained (every channel, before the dead-channel shrink) written dense: what shipping the model without
    /// pruning would cost. <see cref="DenseBytes"/> when nothing was removed.
    /// </summary>
    public long TrainedDenseBytes { get; init; } = DenseBytes;

    /// <summary>
    /// N·H(nnz/N)/8 + 4·nnz over the pruned layers as trained taken together (N their weights, nnz the kept ones, H the
    /// binary entropy in bits; before the dead-channel shrink), plus 4 bytes per weight of the layers kept dense and per
    /// other parameter: the information content of the trained mask plus the float32 values, ignoring graph structure.
    /// </summary>
    public double BoundBytes
    {
        get
        {
            long total = Layers.Where(l => l.Prunable).Sum(l => l.OriginalParameterCount);
            long kept = Layers.Where(l => l.Prunable).Sum(l => l.OriginalKeptCount);
            double mask = total == 0 ? 0 : total * BinaryEntropy((double)kept / total) / 8;
            return mask + 4.0 * kept + 4.0 * Layers.Where(l => !l.Prunable).Sum(l => l.OriginalParameterCount) + 4.0 * OriginalOtherParameterCount;
        }
    }

    /// <summary>Dense size over shipped size.</summary>
    public double CompressionRatio => (double)DenseBytes / ShippedBytes;

    /// <summary>Binary entropy in bits: H(p) = −p·log2 p − (1−p)·log2(1−p), 0 at p = 0 or 1.</summary>
    public static double BinaryEntropy(double p) =>
        p <= 0 || p >= 1 ? 0 : -p * Math.Log2(p) - (1 - p) * Math.Log2(1 - p);
}

/// <summary>The written ONNX model and its size accounting.</summary>
/// <param name="Bytes">The serialized ModelProto.</param>
/// <param name="Size">Size accounting computed while writing.</param>
internal sealed record OnnxExportResult(byte[] Bytes, OnnxSizeReport Size)
{
    /// <summary>With <see cref="OnnxQuantization.Full"/>: the calibration images' count and every quantised activation's range; else null.</summary>
    public OnnxCalibration? Calibration { get; init; }
}
