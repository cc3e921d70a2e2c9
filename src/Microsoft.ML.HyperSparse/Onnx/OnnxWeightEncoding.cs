namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>How the weights of prunable convolution and linear layers are stored in the ONNX file.</summary>
/// <remarks>
/// Whatever the encoding, ONNX Runtime sees the same weight values, so outputs are bit-identical. Per layer the writer
/// falls back to a plain dense initializer wherever that is smaller than the chosen encoding (dense or tiny layers).
/// </remarks>
internal enum OnnxWeightEncoding
{
    /// <summary>
    /// The kept values of all sparse layers in one tensor and their positions in one <see cref="RiceGapCode"/> stream,
    /// decoded once in-graph with standard operators (Unsqueeze, BitShift, Mod, Split, Cast, CumSum, Range, ScatterElements,
    /// Slice, MatMul, Reshape) that ONNX Runtime constant-folds at session creation, then split into layers.
    /// </summary>
    Compact,

    /// <summary>
    /// Spec-conformant sparse storage: each weight is a <c>Constant</c> node whose <c>sparse_value</c> attribute holds a
    /// <c>SparseTensorProto</c> (values [NNZ] float32, INT64 linear indices [NNZ], dims = the dense shape). Not
    /// <c>GraphProto.sparse_initializer</c>: onnx.checker's full check types those as sparse tensors, which Conv and Gemm reject.
    /// </summary>
    SparseInitializer,

    /// <summary>Plain float32 initializers.</summary>
    Dense,
}
