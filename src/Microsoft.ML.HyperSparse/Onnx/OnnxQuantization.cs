namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>How much of the exported network is stored and run as 8-bit integers.</summary>
internal enum OnnxQuantization
{
    /// <summary>Float32 weights and activations.</summary>
    None,

    /// <summary>
    /// Weights stored as per-output-channel symmetric int8 and rebuilt as Cast · scale, which ONNX Runtime folds at session
    /// creation: a smaller file, the same float kernels and speed.
    /// </summary>
    WeightsOnly,

    /// <summary>
    /// Weights int8 as in <see cref="WeightsOnly"/>, rebuilt through <c>DequantizeLinear</c>, and every activation a convolution
    /// or residual Add reads or writes wrapped in a uint8 QuantizeLinear → DequantizeLinear pair whose scale comes from
    /// calibration images (<see cref="OnnxExportOptions.CalibrationPixels"/>). ONNX Runtime fuses the pairs into int8 kernels
    /// (QLinearConv, QLinearAdd), which run about 3× faster than float on a CPU with VNNI. Lossy.
    /// </summary>
    Full,
}
