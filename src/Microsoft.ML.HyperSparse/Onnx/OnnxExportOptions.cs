namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>Choices for <see cref="OnnxModelWriter"/>: weight encoding, dead-channel shrink and the names of the graph outputs.</summary>
internal sealed record OnnxExportOptions
{
    /// <summary>Encoding of prunable weights; default <see cref="OnnxWeightEncoding.Compact"/>.</summary>
    public OnnxWeightEncoding WeightEncoding { get; init; } = OnnxWeightEncoding.Compact;

    /// <summary>
    /// Store every convolution and linear weight as per-output-channel symmetric int8 (zeros stay zero, kept weights stay
    /// non-zero) with float32 scales, rebuilt as Cast · scale in the graph. Lossy; default false.
    /// </summary>
    public bool QuantizeWeights { get; init; }

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
