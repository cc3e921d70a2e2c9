using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// What storing the weights as int8 (<see cref="HyperSparseClassificationTrainer.Options.QuantizeWeights"/>) cost in accuracy:
/// the float and the int8 ONNX file of the same trained model, both scored by ONNX Runtime on the same images.
/// </summary>
/// <param name="EvaluatedOn">"validation set" or "training set".</param>
/// <param name="Images">Images scored (the whole validation set; at most <see cref="MaxTrainingImages"/> of the training set).</param>
/// <param name="FloatAccuracy">Top-1 accuracy (%) of the float model.</param>
/// <param name="QuantizedAccuracy">Top-1 accuracy (%) of the int8 model.</param>
/// <param name="ChangedPredictions">Images whose predicted class differs between the two.</param>
public sealed record HyperSparseQuantizationCheck(string EvaluatedOn, int Images, double FloatAccuracy, double QuantizedAccuracy, int ChangedPredictions)
{
    /// <summary>Training images scored when no validation set is given (the first ones).</summary>
    public const int MaxTrainingImages = 10_000;

    /// <summary>Weights only, or the whole network in int8 (<see cref="HyperSparseClassificationTrainer.Options.Quantization"/>).</summary>
    public HyperSparseQuantization Mode { get; init; } = HyperSparseQuantization.WeightsOnly;

    /// <summary>With <see cref="HyperSparseQuantization.Full"/>: the training images the activation ranges were measured on; else 0.</summary>
    public int CalibrationImages { get; init; }

    /// <summary>With <see cref="HyperSparseQuantization.Full"/>: every calibrated activation and its range; else empty.</summary>
    public IReadOnlyList<HyperSparseActivationRange> CalibratedActivations { get; init; } = [];

    /// <summary>With <see cref="HyperSparseQuantization.Full"/>: layers that run in float (ONNX Runtime fuses no int8 classifier); else empty.</summary>
    public IReadOnlyList<string> FloatLayers { get; init; } = [];

    /// <summary>Int8 minus float accuracy in percentage points (negative: int8 is worse).</summary>
    public double AccuracyChange => QuantizedAccuracy - FloatAccuracy;

    internal static HyperSparseQuantizationCheck Run(byte[] floatModel, byte[] quantizedModel, string inputName, string logitsName,
        ImageDataset data, string evaluatedOn, CancellationToken cancellation)
    {
        int count = evaluatedOn == "training set" ? Math.Min(data.Count, MaxTrainingImages) : data.Count;
        int[] floatPredictions = Predict(floatModel, inputName, logitsName, data, count, cancellation);
        int[] quantizedPredictions = Predict(quantizedModel, inputName, logitsName, data, count, cancellation);
        double Accuracy(int[] predicted) => count == 0 ? 0 : 100.0 * predicted.Where((p, i) => p == data.Labels[i]).Count() / count;
        return new HyperSparseQuantizationCheck(evaluatedOn, count, Accuracy(floatPredictions), Accuracy(quantizedPredictions),
            floatPredictions.Where((p, i) => p != quantizedPredictions[i]).Count());
    }

    private static int[] Predict(byte[] model, string inputName, string logitsName, ImageDataset data, int count, CancellationToken cancellation)
    {
        const int Batch = 256;
        using var session = new InferenceSession(model);
        using var runOptions = new RunOptions();
        int size = data.Channels * data.Height * data.Width;
        var predictions = new int[count];
        for (int start = 0; start < count; start += Batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int n = Math.Min(Batch, count - start);
            var pixels = data.Pixels.AsMemory(start * size, n * size);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels, [n, data.Channels, data.Height, data.Width]);
            using var outputs = session.Run(runOptions, [inputName], [input], [logitsName]);
            ReadOnlySpan<float> logits = outputs[0].GetTensorDataAsSpan<float>();
            int classes = logits.Length / n;
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> row = logits.Slice(i * classes, classes);
                int best = 0;
                for (int c = 1; c < classes; c++)
                    if (row[c] > row[best]) best = c;
                predictions[start + i] = best;
            }
        }

        return predictions;
    }
}

/// <summary>How much of the model is stored and run as 8-bit integers.</summary>
public enum HyperSparseQuantization
{
    /// <summary>Float32 weights and activations (unless <see cref="HyperSparseClassificationTrainer.Options.QuantizeWeights"/> is set).</summary>
    None,
    /// <summary>Int8 weights (per output channel), folded back to float by ONNX Runtime at load: a smaller file, the same speed.</summary>
    WeightsOnly,
    /// <summary>Int8 weights and uint8 activations with calibrated ranges: ONNX Runtime runs int8 kernels (QLinearConv, QLinearAdd).</summary>
    Full,
}

/// <summary>One calibrated activation of a fully quantised model.</summary>
/// <param name="Tensor">The activation (the name of the node that writes it, or the input).</param>
/// <param name="Min">Smallest value over the calibration images.</param>
/// <param name="Max">Largest value.</param>
/// <param name="Scale">uint8 step: (max − min) / 255 with the range widened to include 0.</param>
public sealed record HyperSparseActivationRange(string Tensor, float Min, float Max, float Scale);
