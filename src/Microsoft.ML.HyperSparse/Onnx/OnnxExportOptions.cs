namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>Choices for <see cref="OnnxModelWriter"/>: weight encoding and the names of the graph outputs.</summary>
internal sealed record OnnxExportOptions
{
    /// <summary>Encoding of prunable weights; default <see cref="OnnxWeightEncoding.Compact"/>.</summary>
    public OnnxWeightEncoding WeightEncoding { get; init; } = OnnxWeightEncoding.Compact;

    /// <summary>Name of the softmax output, float [batch, ClassCount]. Always emitted.</summary>
    public string ScoreOutputName { get; init; } = "Score";

    /// <summary>Name of the arg-max output, int64 [batch]; null = not emitted.</summary>
    public string? PredictedIndexOutputName { get; init; }

    /// <summary>Name of the raw logits output, float [batch, ClassCount]; null = not emitted.</summary>
    public string? LogitsOutputName { get; init; }
}
