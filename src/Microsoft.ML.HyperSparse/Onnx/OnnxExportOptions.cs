namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>Choices for <see cref="OnnxModelWriter"/>: weight encoding, dead-channel shrink and the names of the graph outputs.</summary>
internal sealed record OnnxExportOptions
{
    /// <summary>Encoding of prunable weights; default <see cref="OnnxWeightEncoding.Compact"/>.</summary>
    public OnnxWeightEncoding WeightEncoding { get; init; } = OnnxWeightEncoding.Compact;

    /// <summary>
    /// Store every convolution and linear weight as per-output-channel symmetric int8 (zeros stay zero, kept weights stay
    /// non-zero) with float32 scales, rebuilt as Cast · scale in the graph. Lossy; default false. Reads true for every
    /// <see cref="Quantization"/> but <see cref="OnnxQuantization.None"/>; setting true asks for
    /// <see cref="OnnxQuantization.WeightsOnly"/> (keeping <see cref="OnnxQuantization.Full"/> if already set), false for none.
    /// </summary>
    public bool QuantizeWeights
    {
        get => Quantization != OnnxQuantization.None;
        init => Quantization = !value ? OnnxQuantization.None
            : Quantization == OnnxQuantization.Full ? OnnxQuantization.Full : OnnxQuantization.WeightsOnly;
    }

    /// <summary>What is stored and run as 8-bit integers; default <see cref="OnnxQuantization.None"/>.</summary>
    public OnnxQuantization Quantization { get; init; }

    /// <summary>
    /// With <see cref="OnnxQuantization.Full"/>: calibration images, float pixels exactly as the graph input takes them, row-major
    /// [N, C, H, W] (C the graph input's channels), N ≥ 1. Each activation's uint8 range is its min/max over these images as
    /// the float model computes them. Required for <see cref="OnnxQuantization.Full"/>, ignored otherwise.
    /// </summary>
    public float[]? CalibrationPixels { get; init; }

    /// <summary>
    /// Remove the channels that do not depend on the image (all-zero filters) or that nothing reads, folding their constant
    /// contribution exactly into the layers that read them (<see cref="DeadChannelShrink"/>); the output is unchanged up to
    /// float rounding. Default true; false writes every channel of the description.
    /// </summary>
    public bool ShrinkDeadChannels { get; init; } = true;

    /// <summary>Name of the softmax output, float [batch, ClassCount]. Always emitted.</summary>
    public string ScoreOutputName { get; init; } = "Score";

    /// <summary>Name of the arg-max output, int64 [batch]; null = not emitted.</summary>
    public string? PredictedIndexOutputName { get; init; }

    /// <summary>Name of the raw logits output, float [batch, ClassCount]; null = not emitted.</summary>
    public string? LogitsOutputName { get; init; }

    /// <summary>
    /// With <see cref="ShrinkDeadChannels"/>: a feature map whose channel count is a multiple of this keeps a multiple of it,
    /// so ONNX Runtime's blocked (NCHWc) convolutions still apply; default <see cref="DeadChannelShrink.ChannelBlock"/>, 1 = no rule.
    /// </summary>
    public int ShrinkChannelBlock { get; init; } = DeadChannelShrink.ChannelBlock;
}
