using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// The graph ONNX Runtime actually runs after its optimisations, saved through the session option for it
/// (<see cref="SessionOptions.OptimizedModelFilePath"/>) into a temporary file and read back: the one place the tests and the
/// benchmarks ask which kernels a model ended up with (QDQ fusion happens at the extended level; constant folding at basic).
/// </summary>
internal static class OrtOptimizedGraph
{
    /// <summary>Op types of the optimised graph, in node order.</summary>
    public static List<string> OpTypes(byte[] model, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    {
        ArgumentNullException.ThrowIfNull(model);
        var path = Path.Combine(Path.GetTempPath(), $"hs-ort-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { OptimizedModelFilePath = path, GraphOptimizationLevel = level, IntraOpNumThreads = 1 })
            using (new InferenceSession(model, options))
            {
            }

            return OnnxModelReader.Parse(File.ReadAllBytes(path), path).Graph.Node.Select(n => n.OpType).ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
