namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

// Replaced by the ONNX / state_dict readers (branch import) when merged.
internal static class PretrainedFiles
{
    public static PretrainedWeights Read(string path) => throw new NotSupportedException($"Reading '{path}': ONNX and PyTorch files are not readable yet.");
}
