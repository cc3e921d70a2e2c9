namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>What one convolution or linear layer's weight costs in the written file.</summary>
/// <param name="Name">Layer (node) name; the weight tensor is <c>{Name}.weight</c>.</param>
/// <param name="OpType">ONNX operator reading the weight: "Conv" or "Gemm".</param>
/// <param name="Shape">Weight shape ([O, I, kH, kW] or [O, I]).</param>
/// <param name="Prunable">Whether the layer is one of the pruned ones (only those get a sparse encoding).</param>
/// <param name="KeptCount">Non-zero weights after batch-norm folding.</param>
/// <param name="Encoding">Encoding actually used (dense when that was smaller or the layer is not prunable).</param>
/// <param name="WeightBytes">Bytes the weight takes in the file: its own initializers and nodes, plus its share of entries
/// several layers are rebuilt from (see <see cref="OnnxLayerBytes"/>).</param>
/// <param name="Quantized">Whether the weight is stored as int8 levels with per-channel scales.</param>
internal sealed record OnnxLayerSize(
    string Name, string OpType, long[] Shape, bool Prunable, long KeptCount, OnnxWeightEncoding Encoding, long WeightBytes, bool Quantized = false)
{
    /// <summary>Number of weight elements.</summary>
    public long ParameterCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>
    /// Information bound of this weight in bytes: for a prunable layer N·H(p)/8 for the positions plus 4 bytes per kept value;
    /// for a dense layer 4 bytes per element.
    /// </summary>
    public double BoundBytes => Prunable
        ? ParameterCount * OnnxSizeReport.BinaryEntropy((double)KeptCount / ParameterCount) / 8 + 4.0 * KeptCount
        : 4.0 * ParameterCount;
}

/// <summary>Size accounting of one export: the shipped file against the same network written dense and the information bound.</summary>
/// <param name="ShippedBytes">Size of the written file.</param>
/// <param name="DenseBytes">Size of the same network written with <see cref="OnnxWeightEncoding.Dense"/>.</param>
/// <param name="OtherParameterCount">Float parameters outside layer weights that end up in the file: biases (folded or not),
/// unfolded batch-norm parameters, normalisation constants.</param>
/// <param name="Layers">Every convolution and linear layer, in graph order.</param>
internal sealed record OnnxSizeReport(long ShippedBytes, long DenseBytes, long OtherParameterCount, IReadOnlyList<OnnxLayerSize> Layers)
{
    /// <summary>
    /// N·H(nnz/N)/8 + 4·nnz over the pruned layers taken together (N their weights, nnz the kept ones, H the binary entropy in
    /// bits), plus 4 bytes per weight of the layers kept dense and per other parameter: the information content of a mask
    /// with that density plus the float32 values, ignoring graph structure.
    /// </summary>
    public double BoundBytes
    {
        get
        {
            long total = Layers.Where(l => l.Prunable).Sum(l => l.ParameterCount);
            long kept = Layers.Where(l => l.Prunable).Sum(l => l.KeptCount);
            double mask = total == 0 ? 0 : total * BinaryEntropy((double)kept / total) / 8;
            return mask + 4.0 * kept + 4.0 * Layers.Where(l => !l.Prunable).Sum(l => l.ParameterCount) + 4.0 * OtherParameterCount;
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
internal sealed record OnnxExportResult(byte[] Bytes, OnnxSizeReport Size);
