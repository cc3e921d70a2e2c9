using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>Where ART's probe — the pruned copy scored on the augmented training data — runs.</summary>
internal enum ProbeRuntime
{
    /// <summary>
    /// The pruned copy is written as ONNX (dense weights, no channel shrink, the eval form the export uses) and scored by
    /// ONNX Runtime: measured 1.4–2.5× faster than libtorch's eval forward on LeNet-5 and ResNet-20 on a 2-core CPU
    /// (docs/bench-step.md: 1.73× / 1.79× in its latest run). Same network, same weights, same images; only the float kernels' rounding differs.
    /// </summary>
    OnnxRuntime,

    /// <summary>The pruned copy runs through libtorch in eval mode, as the reference code does.</summary>
    Torch,
}

/// <summary>
/// ART's probe through ONNX Runtime: the top-1 accuracy of the pruned copy on one epoch of the probe loader, which must
/// yield raw pixels (<see cref="Normalization.ScaleOnly"/> with scale 1): the normalisation runs in the graph, exactly as
/// when the exported model scores. One session per probe (the weights change every epoch), disposed before returning.
/// </summary>
internal static class OnnxProbe
{
    private const string Logits = "probe_logits";

    /// <summary>Correct predictions and images seen; throws <see cref="TrainingDivergedException"/> through <paramref name="nonFinite"/> on a non-finite logit.</summary>
    public static (long Correct, long Seen) Score(ImageClassifier network, Normalization normalization, BatchLoader rawLoader, int loaderEpoch,
        int threads, Func<float, Exception> nonFinite, CancellationToken cancellation)
    {
        var net = network.DescribeNetwork("image", normalization);
        var model = OnnxModelWriter.Write(net, new OnnxExportOptions
        {
            WeightEncoding = OnnxWeightEncoding.Dense,
            ShrinkDeadChannels = false,
            LogitsOutputName = Logits,
        }).Bytes;
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        // No spinning after the last batch: the next training epoch wants every core at once.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        var outputs = new[] { Logits };
        var inputs = new[] { net.InputName };
        int classes = network.ClassCount;
        long correct = 0, seen = 0;
        foreach (var batch in rawLoader.Epoch(loaderEpoch))
        {
            cancellation.ThrowIfCancellationRequested();
            var memory = new Memory<float>(batch.Images, 0, batch.Count * batch.ImageSize);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory,
                [batch.Count, batch.Channels, batch.Height, batch.Width]);
            using var results = session.Run(runOptions, inputs, [input], outputs);
            ReadOnlySpan<float> logits = results[0].GetTensorDataAsSpan<float>();
            for (int row = 0; row < batch.Count; row++)
            {
                var scores = logits.Slice(row * classes, classes);
                // Top-1 as torch.argmax: the first of equal maxima.
                int best = 0;
                for (int c = 0; c < classes; c++)
                {
                    if (!float.IsFinite(scores[c])) throw nonFinite(scores[c]);
                    if (scores[c] > scores[best]) best = c;
                }
                if (best == batch.Labels[row]) correct++;
            }
            seen += batch.Count;
        }
        return (correct, seen);
    }
}
