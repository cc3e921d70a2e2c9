using System.Globalization;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Writes a <see cref="NetworkDescription"/> as a standard ONNX model (IR 8, opset 17): normalisation baked in, batch norms
/// folded into convolutions, dead channels removed (<see cref="DeadChannelShrink"/>, unless turned off), prunable weights in
/// the chosen <see cref="OnnxWeightEncoding"/>, softmax scores out.
/// </summary>
internal static class OnnxModelWriter
{
    /// <summary>ONNX IR version written; 8 is what onnx 1.12 / ORT accept with opset 17.</summary>
    public const long IrVersion = 8;

    /// <summary>Default-domain opset version written.</summary>
    public const long OpsetVersion = 17;

    /// <summary>Value of <c>ModelProto.producer_name</c>.</summary>
    public const string ProducerName = "HyperSparse.MLNet";

    /// <summary>Initializer holding the pixel scale (absent when the scale is 1).</summary>
    public const string PixelScaleTensor = "input.pixel_scale";

    /// <summary>Initializer holding the per-channel mean, [1, C, 1, 1] (absent when every mean is 0).</summary>
    public const string MeanTensor = "input.mean";

    /// <summary>Initializer holding the per-channel standard deviation, [1, C, 1, 1] (absent when every std is 1).</summary>
    public const string StdTensor = "input.std";

    /// <summary>Serializes the model and accounts for its size.</summary>
    /// <exception cref="ArgumentException">The description or the options are inconsistent; the message names the culprit.</exception>
    public static OnnxExportResult Write(NetworkDescription net, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptions(options, net);
        IReadOnlyList<NetworkNode> lowered = NetworkLowering.Lower(net);
        DeadChannelShrinkResult? shrink = options.ShrinkDeadChannels ? DeadChannelShrink.Apply(lowered, net, options.ShrinkChannelBlock) : null;
        Shrinking shrinking = shrink is { Changed: true }
            ? new Shrinking(shrink.Layers.ToDictionary(l => l.Name, StringComparer.Ordinal), OtherParameterCount(net, lowered))
            : Shrinking.None;
        IReadOnlyList<NetworkNode> nodes = shrink?.Nodes ?? lowered;

        (ActivationPlan? plan, OnnxCalibration? calibration) = options.Quantization == OnnxQuantization.Full
            ? Calibrate(net, nodes, options, shrinking)
            : (null, null);
        Emitted shipped = Emit(net, nodes, options, shrinking, plan);
        byte[] bytes = shipped.Model.ToByteArray();
        // The reference every ratio is taken against: the same network (as the file holds it) with plain float32 weights.
        long denseBytes = options is { WeightEncoding: OnnxWeightEncoding.Dense, Quantization: OnnxQuantization.None }
            ? bytes.LongLength
            : Emit(net, nodes, options with { WeightEncoding = OnnxWeightEncoding.Dense, QuantizeWeights = false }, shrinking).Model.CalculateSize();
        var size = new OnnxSizeReport(bytes.LongLength, denseBytes, shipped.OtherParameterCount, shipped.Layers)
        {
            OriginalOtherParameterCount = shrinking.OtherParametersBefore ?? shipped.OtherParameterCount,
            TrainedDenseBytes = shrinking == Shrinking.None
                ? denseBytes
                : Emit(net, lowered, options with { WeightEncoding = OnnxWeightEncoding.Dense, QuantizeWeights = false, ShrinkDeadChannels = false }, Shrinking.None).Model.CalculateSize(),
        };
        return new OnnxExportResult(bytes, size) { Calibration = calibration };
    }

    /// <summary>Each quantised activation (by its description name): its uint8 scale and zero point.</summary>
    private sealed class ActivationPlan(Dictionary<string, (float Scale, byte ZeroPoint)> points, int images)
    {
        public IReadOnlyDictionary<string, (float Scale, byte ZeroPoint)> Points { get; } = points;

        public int Images { get; } = images;
    }

    /// <summary>
    /// Measures the range of every activation <see cref="ActivationCalibration.Points"/> picks: the float model (dense weights,
    /// same nodes) with those tensors as extra outputs runs on the calibration images.
    /// </summary>
    private static (ActivationPlan, OnnxCalibration) Calibrate(NetworkDescription net, IReadOnlyList<NetworkNode> nodes, OnnxExportOptions options, Shrinking shrinking)
    {
        var points = ActivationCalibration.Points(nodes);
        var measured = points.Where(p => p.ScaleOf is null).Select(p => p.Tensor).ToList();
        Emitted probe = Emit(net, nodes, options with { WeightEncoding = OnnxWeightEncoding.Dense, Quantization = OnnxQuantization.None }, shrinking, null, measured);
        (float Min, float Max)[] ranges = ActivationCalibration.MinMax(probe.Model.ToByteArray(), net, options.CalibrationPixels!, probe.Exposed);
        var byTensor = measured.Select((t, i) => (t, ranges[i])).ToDictionary(p => p.t, p => p.Item2, StringComparer.Ordinal);
        var quantized = new Dictionary<string, (float Scale, byte ZeroPoint)>(StringComparer.Ordinal);
        var report = new List<OnnxActivationRange>();
        foreach ((string tensor, string producer, string? scaleOf) in points)
        {
            (float min, float max) = byTensor[scaleOf ?? tensor];
            (float scale, byte zeroPoint) = ActivationCalibration.Uint8(min, max);
            quantized[tensor] = (scale, zeroPoint);
            report.Add(new OnnxActivationRange(tensor, producer, min, max, scale, zeroPoint, scaleOf));
        }

        int images = options.CalibrationPixels!.Length / (net.GraphInputChannels * net.Height * net.Width);
        var marked = points.Select(p => p.Tensor).ToHashSet(StringComparer.Ordinal);
        var floatLayers = nodes.Where(n => n is LinearNode || n is Conv2dNode && !marked.Contains(n.Input)).Select(n => n.Name).ToList();
        return (new ActivationPlan(quantized, images), new OnnxCalibration(images, report, floatLayers));
    }

    /// <summary>What the dead-channel shrink changed, for the size report and the metadata; <see cref="None"/> when nothing.</summary>
    /// <param name="Layers">Every layer's before/after figures by name (empty when nothing changed).</param>
    /// <param name="OtherParametersBefore">Other parameters of the unshrunk network, or null when nothing changed.</param>
    private sealed record Shrinking(IReadOnlyDictionary<string, ShrunkLayer> Layers, long? OtherParametersBefore)
    {
        public static readonly Shrinking None = new(new Dictionary<string, ShrunkLayer>(), null);
    }

    /// <summary>Float parameters outside layer weights that <see cref="Emit"/> writes for <paramref name="nodes"/>.</summary>
    private static long OtherParameterCount(NetworkDescription net, IReadOnlyList<NetworkNode> nodes) =>
        (net.PixelScale != 1f ? 1 : 0) + (net.Mean.Any(m => m != 0f) || net.GraphInputChannels != net.Channels ? net.Channels : 0) + (net.Std.Any(s => s != 1f) ? net.Channels : 0)
        + nodes.Sum(n => n switch
        {
            Conv2dNode c => c.Bias?.LongLength ?? 0,
            LinearNode l => l.Bias?.LongLength ?? 0,
            BatchNormNode bn => 4L * bn.Scale.Length,
            _ => 0,
        });

    /// <summary>Writes the model to <paramref name="destination"/> (the model is built completely before the first byte is written).</summary>
    public static OnnxExportResult Write(NetworkDescription net, OnnxExportOptions options, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        OnnxExportResult result = Write(net, options);
        destination.Write(result.Bytes);
        return result;
    }

    /// <summary>
    /// Writes the model to <paramref name="path"/> via a temporary file in the same directory that is then moved over
    /// the target, so the path never holds a half-written model.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The target directory does not exist (nothing is created).</exception>
    public static OnnxExportResult WriteFile(NetworkDescription net, OnnxExportOptions options, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw OnnxExportErrors.Option("path", "a file path", $"the root '{fullPath}'");
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException(
                $"ONNX export: path '{fullPath}': expected an existing directory '{directory}', found none. Create it first.");

        OnnxExportResult result = Write(net, options);
        // Same directory as the target so the final move is a rename on the same volume.
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(result.Bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        return result;
    }

    // Best effort: a failure to clean up must not hide the error that made the write fail.
    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void ValidateOptions(OnnxExportOptions options, NetworkDescription net)
    {
        if (!Enum.IsDefined(options.WeightEncoding))
            throw OnnxExportErrors.Option(nameof(options.WeightEncoding), "a defined OnnxWeightEncoding", options.WeightEncoding.ToString());
        if (!Enum.IsDefined(options.Quantization))
            throw OnnxExportErrors.Option(nameof(options.Quantization), "a defined OnnxQuantization", options.Quantization.ToString());
        if (string.IsNullOrEmpty(options.ScoreOutputName))
            throw OnnxExportErrors.Option(nameof(options.ScoreOutputName), "a non-empty tensor name", "an empty name");
        if (options.PredictedIndexOutputName is "")
            throw OnnxExportErrors.Option(nameof(options.PredictedIndexOutputName), "null or a non-empty tensor name", "an empty name");
        if (options.LogitsOutputName is "")
            throw OnnxExportErrors.Option(nameof(options.LogitsOutputName), "null or a non-empty tensor name", "an empty name");
        string?[] outputs = [options.ScoreOutputName, options.PredictedIndexOutputName, options.LogitsOutputName];
        if (outputs.OfType<string>().Distinct(StringComparer.Ordinal).Count() != outputs.OfType<string>().Count())
            throw OnnxExportErrors.Option("output names", "distinct names", $"'{string.Join("', '", outputs.OfType<string>())}'");
        if (options.Quantization == OnnxQuantization.Full)
        {
            long perImage = (long)net.GraphInputChannels * net.Height * net.Width;
            if (options.CalibrationPixels is not { Length: > 0 } pixels || pixels.LongLength % perImage != 0)
                throw OnnxExportErrors.Option(nameof(options.CalibrationPixels),
                    $"with Quantization Full, one or more images of {net.GraphInputChannels}×{net.Height}×{net.Width} float pixels (a multiple of {perImage} values)",
                    options.CalibrationPixels is null ? "null" : $"{options.CalibrationPixels.LongLength} values");
        }
    }

    /// <param name="Model">The model.</param>
    /// <param name="Layers">Per-layer size figures.</param>
    /// <param name="OtherParameterCount">Float parameters outside layer weights.</param>
    /// <param name="Exposed">The graph-output names of the tensors asked to be exposed, in the order asked.</param>
    private sealed record Emitted(ModelProto Model, IReadOnlyList<OnnxLayerSize> Layers, long OtherParameterCount, IReadOnlyList<string> Exposed);

    /// <param name="net">The description.</param>
    /// <param name="nodes">Its lowered (and possibly shrunk) nodes.</param>
    /// <param name="options">The options.</param>
    /// <param name="shrinking">What the shrink changed.</param>
    /// <param name="plan">Full int8: the activations to wrap in QuantizeLinear → DequantizeLinear, else null.</param>
    /// <param name="exposed">Description tensors to add as float graph outputs (calibration), or null.</param>
    private static Emitted Emit(NetworkDescription net, IReadOnlyList<NetworkNode> nodes, OnnxExportOptions options, Shrinking shrinking,
        ActivationPlan? plan = null, IReadOnlyList<string>? exposed = null)
    {
        var graph = new GraphProto { Name = "hypersparse", DocString = DocString(net, options) };
        graph.Input.Add(OnnxProtos.BatchedTensor(net.InputName, DataType.Float, net.GraphInputChannels, net.Height, net.Width));

        // Tensor names cost bytes twice (writer and reader), so every tensor but the graph's input and outputs gets a short
        // generated name; the layer names users see are the Conv/Gemm node names.
        string logits = options.LogitsOutputName ?? NetworkDescription.LogitsTensor;
        var used = new HashSet<string>(StringComparer.Ordinal) { net.InputName, logits, options.ScoreOutputName, PixelScaleTensor, MeanTensor, StdTensor };
        if (options.PredictedIndexOutputName is { } predictedName)
            used.Add(predictedName);
        int counter = 0;
        string Fresh(string hint)
        {
            string candidate = hint;
            while (!used.Add(candidate))
                candidate = hint + "_" + counter++;
            return candidate;
        }

        var activations = new Dictionary<string, string>(StringComparer.Ordinal) { [NetworkDescription.LogitsTensor] = logits };
        string Tensor(string name)
        {
            if (!activations.TryGetValue(name, out string? shortName))
                activations[name] = shortName = Fresh("x" + activations.Count);
            return shortName;
        }

        // Full int8: a node whose output is quantised writes a fresh float tensor, which QuantizeLinear → DequantizeLinear turn
        // into the tensor its readers know.
        bool Wrapped(string tensor) => plan is not null && plan.Points.ContainsKey(tensor);
        void QuantizeDequantize(string raw, string tensor)
        {
            (float scale, byte zeroPoint) = plan!.Points[tensor];
            string scaleName = Fresh("as"), zeroName = Fresh("az"), quantized = Fresh("aq");
            graph.Initializer.Add(OnnxProtos.Float(scaleName, [scale]));
            graph.Initializer.Add(OnnxProtos.UInt8(zeroName, [zeroPoint]));
            graph.Node.Add(OnnxProtos.Node("QuantizeLinear", null, [raw, scaleName, zeroName], quantized));
            graph.Node.Add(OnnxProtos.Node("DequantizeLinear", null, [quantized, scaleName, zeroName], Tensor(tensor)));
        }

        string normalizedRaw = Wrapped(NetworkDescription.NormalizedTensor) ? Fresh("y") : Tensor(NetworkDescription.NormalizedTensor);
        long otherParameters = EmitNormalization(net, graph, normalizedRaw, Fresh);
        if (Wrapped(NetworkDescription.NormalizedTensor))
            QuantizeDequantize(normalizedRaw, NetworkDescription.NormalizedTensor);

        var specs = new List<WeightSpec>();
        foreach (NetworkNode node in nodes)
        {
            if (node is Conv2dNode conv)
                specs.Add(new WeightSpec(conv.Name, "Conv", [conv.OutChannels, conv.InChannels, conv.KernelH, conv.KernelW], conv.Weight, conv.Prunable, Fresh("w" + specs.Count)));
            else if (node is LinearNode linear)
                specs.Add(new WeightSpec(linear.Name, "Gemm", [linear.OutFeatures, linear.InFeatures], linear.Weight, linear.Prunable, Fresh("w" + specs.Count)));
        }

        IReadOnlyList<EmittedWeight> weights = WeightEmitter.Emit(graph, specs, options.WeightEncoding, options.Quantization, Fresh);

        var weightOf = specs.Select((spec, i) => (spec.Layer, weights[i].TensorName)).ToDictionary(p => p.Layer, p => p.TensorName, StringComparer.Ordinal);
        string[] WithBias(string input, string layerName, float[]? bias)
        {
            string weight = weightOf[layerName];
            if (bias is null)
                return [input, weight];
            string biasName = Fresh("b" + weight[1..]);
            graph.Initializer.Add(OnnxProtos.Float(biasName, bias, bias.Length));
            otherParameters += bias.Length;
            return [input, weight, biasName];
        }

        foreach (NetworkNode node in nodes)
        {
            bool wrapped = Wrapped(node.Output);
            string input = Tensor(node.Input), output = wrapped ? Fresh("y") : Tensor(node.Output);
            switch (node)
            {
                case Conv2dNode conv:
                    var convNode = OnnxProtos.Node("Conv", conv.Name, WithBias(input, conv.Name, conv.Bias), output);
                    // kernel_shape comes from the weight; strides 1 and pads 0 are the defaults.
                    if (conv.StrideH != 1 || conv.StrideW != 1)
                        convNode.Attribute.Add(OnnxProtos.Attr("strides", conv.StrideH, conv.StrideW));
                    if (!conv.Pads.IsZero)
                        convNode.Attribute.Add(OnnxProtos.Attr("pads", conv.Pads.Top, conv.Pads.Left, conv.Pads.Bottom, conv.Pads.Right));
                    graph.Node.Add(convNode);
                    break;
                case LinearNode linear:
                    graph.Node.Add(OnnxProtos.Node("Gemm", linear.Name, WithBias(input, linear.Name, linear.Bias), output,
                        OnnxProtos.Attr("transB", 1L)));
                    break;
                case BatchNormNode bn:
                    // Not foldable (its input is not a convolution read only by it): an eval-mode BatchNormalization node.
                    string[] parameters = [Fresh(bn.Name + ".scale"), Fresh(bn.Name + ".bias"), Fresh(bn.Name + ".mean"), Fresh(bn.Name + ".var")];
                    float[][] values = [bn.Scale, bn.Bias, bn.Mean, bn.Var];
                    for (int i = 0; i < parameters.Length; i++)
                        graph.Initializer.Add(OnnxProtos.Float(parameters[i], values[i], values[i].Length));
                    otherParameters += 4L * bn.Scale.Length;
                    graph.Node.Add(OnnxProtos.Node("BatchNormalization", bn.Name, [input, .. parameters], output,
                        OnnxProtos.Attr("epsilon", bn.Epsilon)));
                    break;
                case ReluNode:
                    graph.Node.Add(OnnxProtos.Node("Relu", null, [input], output));
                    break;
                case MaxPoolNode pool:
                    var maxPool = OnnxProtos.Node("MaxPool", null, [input], output,
                        OnnxProtos.Attr("kernel_shape", pool.Kernel, pool.Kernel),
                        OnnxProtos.Attr("strides", pool.Stride, pool.Stride));
                    if (!pool.Pads.IsZero)
                        maxPool.Attribute.Add(OnnxProtos.Attr("pads", pool.Pads.Top, pool.Pads.Left, pool.Pads.Bottom, pool.Pads.Right));
                    graph.Node.Add(maxPool);
                    break;
                case AvgPoolNode pool:
                    graph.Node.Add(OnnxProtos.Node("AveragePool", null, [input], output,
                        OnnxProtos.Attr("kernel_shape", pool.Kernel, pool.Kernel),
                        OnnxProtos.Attr("strides", pool.Stride, pool.Stride)));
                    break;
                case GlobalAvgPoolNode:
                    graph.Node.Add(OnnxProtos.Node("GlobalAveragePool", null, [input], output));
                    break;
                case FlattenNode:
                    graph.Node.Add(OnnxProtos.Node("Flatten", null, [input], output));
                    break;
                case AddNode add:
                    graph.Node.Add(OnnxProtos.Node("Add", null, [input, Tensor(add.Other)], output));
                    break;
                default:
                    throw OnnxExportErrors.Network($"node '{node.Name}'", "a supported node type", node.GetType().Name);
            }

            if (wrapped)
                QuantizeDequantize(output, node.Output);
        }

        graph.Node.Add(OnnxProtos.Node("Softmax", null, [logits], options.ScoreOutputName, OnnxProtos.Attr("axis", 1L)));
        graph.Output.Add(OnnxProtos.BatchedTensor(options.ScoreOutputName, DataType.Float, net.ClassCount));
        if (options.PredictedIndexOutputName is { } predicted)
        {
            // Arg-max of the logits, not of the scores: softmax rounding can tie classes whose logits differ.
            graph.Node.Add(OnnxProtos.Node("ArgMax", null, [logits], predicted,
                OnnxProtos.Attr("axis", 1L), OnnxProtos.Attr("keepdims", 0L)));
            graph.Output.Add(OnnxProtos.BatchedTensor(predicted, DataType.Int64));
        }

        if (options.LogitsOutputName is not null)
            graph.Output.Add(OnnxProtos.BatchedTensor(logits, DataType.Float, net.ClassCount));

        var exposedNames = new List<string>();
        foreach (string tensor in exposed ?? [])
        {
            string outputName = Tensor(tensor);
            exposedNames.Add(outputName);
            graph.Output.Add(new ValueInfoProto
            {
                Name = outputName,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } },
            });
        }

        RequireUniqueTensorNames(graph);

        // Per-layer bytes by the rule the inspector uses (shared decode entries split by kept weights).
        var folder = new OnnxConstantFolder(graph, OpsetVersion);
        var kept = weights.Select(w => w.Weight.LongCount(v => v != 0f)).ToArray();
        long[] bytes = OnnxLayerBytes.Attribute(weights.Select((w, i) => (folder.Sources(w.TensorName), kept[i])).ToList());
        var layers = specs.Select((s, i) =>
        {
            var size = new OnnxLayerSize(s.Layer, s.OpType, s.Shape, s.Prunable, kept[i], weights[i].Encoding, bytes[i], weights[i].Quantized);
            return shrinking.Layers.TryGetValue(s.Layer, out ShrunkLayer? shrunk)
                ? size with { OriginalShape = shrunk.OriginalShape, OriginalKeptCount = kept[i] + shrunk.KeptRemoved }
                : size;
        }).ToList();

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        var contract = new OnnxContract(
            net.InputName, net.GraphInputChannels, net.Height, net.Width, net.ClassCount, net.PixelScale, net.Mean, net.Std,
            options.WeightEncoding, options.QuantizeWeights, options.ScoreOutputName, options.PredictedIndexOutputName, options.LogitsOutputName,
            layers.Where(l => !l.Prunable).Select(l => l.Name).ToList(),
            layers.Where(l => l.Prunable).Sum(l => l.OriginalKeptCount), layers.Where(l => l.Prunable).Sum(l => l.OriginalParameterCount))
        {
            Shrunk = layers.Where(l => l.OriginalKeptCount != l.KeptCount || !l.OriginalShape.SequenceEqual(l.Shape))
                .Select(l => new OnnxShrunkLayer(l.Name, l.OutputChannelsRemoved, l.InputsRemoved, l.OriginalKeptCount - l.KeptCount)).ToList(),
            OtherParametersBeforeShrink = shrinking.OtherParametersBefore,
            CalibrationImages = plan?.Images,
        };
        foreach ((string key, string value) in OnnxContractMetadata.ToProperties(contract))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

        return new Emitted(model, layers, otherParameters, exposedNames);
    }

    /// <summary>
    /// Emits <c>(x * PixelScale - Mean[c]) / Std[c]</c> as Mul, Sub, Div (the same float operations, in the same order, as
    /// the training side, so results match bit for bit); steps that are identities are skipped. Returns the constant count.
    /// </summary>
    private static long EmitNormalization(NetworkDescription net, GraphProto graph, string normalized, Func<string, string> fresh)
    {
        var steps = new List<(string Op, string Constant, float[] Values, long[] Dims)>();
        long[] perChannel = [1, net.Channels, 1, 1];
        if (net.PixelScale != 1f)
            steps.Add(("Mul", PixelScaleTensor, [net.PixelScale], []));
        // A one-channel input into a multi-channel network is repeated by broadcasting [N, 1, H, W] − [1, C, 1, 1].
        if (net.Mean.Any(m => m != 0f) || net.GraphInputChannels != net.Channels)
            steps.Add(("Sub", MeanTensor, net.Mean, perChannel));
        if (net.Std.Any(s => s != 1f))
            steps.Add(("Div", StdTensor, net.Std, perChannel));

        string current = net.InputName;
        if (steps.Count == 0)
        {
            graph.Node.Add(OnnxProtos.Node("Identity", null, [current], normalized));
            return 0;
        }

        for (int i = 0; i < steps.Count; i++)
        {
            (string op, string constant, float[] values, long[] dims) = steps[i];
            string output = i == steps.Count - 1 ? normalized : fresh("n" + i);
            graph.Initializer.Add(OnnxProtos.Float(constant, values, dims));
            graph.Node.Add(OnnxProtos.Node(op, null, [current, constant], output));
            current = output;
        }

        return steps.Sum(s => (long)s.Values.Length);
    }

    /// <summary>ONNX requires every value to be defined once (SSA); generated names could collide with the description's.</summary>
    private static void RequireUniqueTensorNames(GraphProto graph)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        IEnumerable<string> names = graph.Input.Select(i => i.Name)
            .Concat(graph.Initializer.Select(t => t.Name))
            .Concat(graph.Node.SelectMany(n => n.Output));
        foreach (string name in names)
            if (!defined.Add(name))
                throw OnnxExportErrors.Network($"tensor '{name}'", "each tensor name defined once (rename the node, tensor or output option)", "it defined twice");
    }

    private static string DocString(NetworkDescription net, OnnxExportOptions options) => string.Create(CultureInfo.InvariantCulture,
        $"{ProducerName} image classifier. Input '{net.InputName}': float [batch,{net.GraphInputChannels},{net.Height},{net.Width}] raw pixels, normalised in-graph. " +
        $"Output '{options.ScoreOutputName}': softmax over {net.ClassCount} classes. Contract: metadata '{OnnxContractMetadata.Prefix}*'.");
}
