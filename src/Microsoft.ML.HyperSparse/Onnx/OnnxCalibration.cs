using Microsoft.ML.HyperSparse.Network;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>The uint8 quantisation of one activation tensor of a fully quantised export.</summary>
/// <param name="Tensor">The tensor's name in the network description (<see cref="NetworkDescription.NormalizedTensor"/> for the normalised input).</param>
/// <param name="Producer">The node that writes it (its name), or "input" for the normalised input.</param>
/// <param name="Min">Smallest value over the calibration images (float model).</param>
/// <param name="Max">Largest value over the calibration images (float model).</param>
/// <param name="Scale">uint8 step: (max(Max, 0) − min(Min, 0)) / 255.</param>
/// <param name="ZeroPoint">The uint8 level of 0 (0 for a ReLU output, whose minimum is 0).</param>
/// <param name="ScaleOf">For a max-pool output: the tensor whose scale and zero point it reuses (ONNX Runtime then pools uint8 directly); else null.</param>
internal sealed record OnnxActivationRange(string Tensor, string Producer, float Min, float Max, float Scale, byte ZeroPoint, string? ScaleOf = null);

/// <summary>What a fully quantised export (<see cref="OnnxQuantization.Full"/>) calibrated.</summary>
/// <param name="ImageCount">Calibration images run through the float model.</param>
/// <param name="Tensors">Every activation given a QuantizeLinear → DequantizeLinear pair, in graph order.</param>
/// <param name="FloatLayers">Layers that run float: every linear layer (Gemm), and a convolution whose input is not quantised (none with this layout).</param>
internal sealed record OnnxCalibration(int ImageCount, IReadOnlyList<OnnxActivationRange> Tensors, IReadOnlyList<string> FloatLayers);

/// <summary>
/// Chooses the activations a fully quantised graph wraps in QuantizeLinear → DequantizeLinear pairs, and measures their ranges
/// by running the float model in ONNX Runtime.
/// </summary>
/// <remarks>
/// The layout is the one ONNX Runtime fuses completely (measured, docs/platform-notes.md): a pair on the normalised input, on
/// every Conv and Add output (after its ReLU when a ReLU is the only reader, so the ReLU folds into the zero point), on every
/// other tensor such a layer reads, and on a max-pool output with its input's scale. A graph with only some of these pairs
/// ran slower than float, so every Conv and Add is covered. Linear layers (Gemm) stay float: ONNX Runtime 1.32 left a QDQ
/// Gemm unfused (per-channel int8 weight with an int32 or a float bias), so quantising its input would only add work.
/// </remarks>
internal static class ActivationCalibration
{
    /// <summary>Images per calibration run (bounds the memory of the extra outputs).</summary>
    private const int Batch = 8;

    /// <summary>
    /// The tensors to quantise, in graph order, each with the tensor whose scale it reuses (a max-pool output) or null.
    /// </summary>
    public static IReadOnlyList<(string Tensor, string Producer, string? ScaleOf)> Points(IReadOnlyList<NetworkNode> nodes)
    {
        var readers = new Dictionary<string, List<NetworkNode>>(StringComparer.Ordinal);
        foreach (NetworkNode node in nodes)
            foreach (string input in NetworkLowering.Inputs(node))
                (readers.TryGetValue(input, out var list) ? list : readers[input] = []).Add(node);
        var producer = nodes.ToDictionary(n => n.Output, n => n.Name, StringComparer.Ordinal);
        producer[NetworkDescription.NormalizedTensor] = "input";

        var marked = new HashSet<string>(StringComparer.Ordinal);
        foreach (NetworkNode node in nodes.Where(n => n is Conv2dNode or AddNode))
        {
            marked.UnionWith(NetworkLowering.Inputs(node));
            if (node.Output == NetworkDescription.LogitsTensor)
                continue;
            marked.Add(readers.TryGetValue(node.Output, out var r) && r is [ReluNode relu] && relu.Output != NetworkDescription.LogitsTensor
                ? relu.Output
                : node.Output);
        }

        var scaleOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (MaxPoolNode pool in nodes.OfType<MaxPoolNode>())
        {
            if (!marked.Contains(pool.Input))
                continue;
            marked.Add(pool.Output);
            scaleOf[pool.Output] = scaleOf.GetValueOrDefault(pool.Input, pool.Input);
        }

        IEnumerable<string> order = new[] { NetworkDescription.NormalizedTensor }.Concat(nodes.Select(n => n.Output));
        return order.Where(marked.Contains).Select(t => (t, producer[t], scaleOf.GetValueOrDefault(t))).ToList();
    }

    /// <summary>
    /// Runs <paramref name="model"/> (the float model with every tensor of <paramref name="outputs"/> exposed as a graph output,
    /// by its name in that model) on the calibration images and returns each output's min and max.
    /// </summary>
    public static (float Min, float Max)[] MinMax(byte[] model, NetworkDescription net, float[] pixels, IReadOnlyList<string> outputs)
    {
        int perImage = net.GraphInputChannels * net.Height * net.Width;
        int images = pixels.Length / perImage;
        var ranges = Enumerable.Repeat((Min: float.PositiveInfinity, Max: float.NegativeInfinity), outputs.Count).ToArray();
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        for (int start = 0; start < images; start += Batch)
        {
            int count = Math.Min(Batch, images - start);
            var memory = new Memory<float>(pixels, start * perImage, count * perImage);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory, [count, net.GraphInputChannels, net.Height, net.Width]);
            using var results = session.Run(runOptions, [net.InputName], [input], outputs.ToArray());
            for (int i = 0; i < outputs.Count; i++)
            {
                ReadOnlySpan<float> values = results[i].GetTensorDataAsSpan<float>();
                float min = ranges[i].Min, max = ranges[i].Max;
                foreach (float v in values)
                {
                    if (!float.IsFinite(v))
                        throw OnnxExportErrors.Network("calibration", $"finite activations in '{outputs[i]}'", v.ToString("R"));
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }

                ranges[i] = (min, max);
            }
        }

        return ranges;
    }

    /// <summary>uint8 affine parameters covering [min(min, 0), max(max, 0)] (0 exactly representable).</summary>
    public static (float Scale, byte ZeroPoint) Uint8(float min, float max)
    {
        double lo = Math.Min(min, 0f), hi = Math.Max(max, 0f);
        float scale = (float)((hi - lo) / 255);
        // A tensor that is 0 on every calibration image: any positive scale (1) keeps it exact.
        if (!(scale > 0f) || !float.IsFinite(scale))
            return (1f, 0);
        return (scale, (byte)Math.Clamp(Math.Round(-lo / scale, MidpointRounding.ToEven), 0, 255));
    }
}
