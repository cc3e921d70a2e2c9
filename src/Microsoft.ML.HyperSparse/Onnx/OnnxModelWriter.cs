using System.Globalization;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Writes a <see cref="NetworkDescription"/> as a standard ONNX model (IR 8, opset 17): normalisation baked in, batch norms
/// folded into convolutions, prunable weights in the chosen <see cref="OnnxWeightEncoding"/>, softmax scores out.
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
        ValidateOptions(options);
        IReadOnlyList<NetworkNode> nodes = NetworkLowering.Lower(net);

        Emitted shipped = Emit(net, nodes, options);
        byte[] bytes = shipped.Model.ToByteArray();
        long denseBytes = options.WeightEncoding == OnnxWeightEncoding.Dense
            ? bytes.LongLength
            : Emit(net, nodes, options with { WeightEncoding = OnnxWeightEncoding.Dense }).Model.CalculateSize();
        return new OnnxExportResult(bytes, new OnnxSizeReport(bytes.LongLength, denseBytes, shipped.OtherParameterCount, shipped.Layers));
    }

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

    private static void ValidateOptions(OnnxExportOptions options)
    {
        if (!Enum.IsDefined(options.WeightEncoding))
            throw OnnxExportErrors.Option(nameof(options.WeightEncoding), "a defined OnnxWeightEncoding", options.WeightEncoding.ToString());
        if (string.IsNullOrEmpty(options.ScoreOutputName))
            throw OnnxExportErrors.Option(nameof(options.ScoreOutputName), "a non-empty tensor name", "an empty name");
        if (options.PredictedIndexOutputName is "")
            throw OnnxExportErrors.Option(nameof(options.PredictedIndexOutputName), "null or a non-empty tensor name", "an empty name");
        if (options.LogitsOutputName is "")
            throw OnnxExportErrors.Option(nameof(options.LogitsOutputName), "null or a non-empty tensor name", "an empty name");
        string?[] outputs = [options.ScoreOutputName, options.PredictedIndexOutputName, options.LogitsOutputName];
        if (outputs.OfType<string>().Distinct(StringComparer.Ordinal).Count() != outputs.OfType<string>().Count())
            throw OnnxExportErrors.Option("output names", "distinct names", $"'{string.Join("', '", outputs.OfType<string>())}'");
    }

    private sealed record Emitted(ModelProto Model, IReadOnlyList<OnnxLayerSize> Layers, long OtherParameterCount);

    private static Emitted Emit(NetworkDescription net, IReadOnlyList<NetworkNode> nodes, OnnxExportOptions options)
    {
        var graph = new GraphProto { Name = "hypersparse", DocString = DocString(net, options) };
        graph.Input.Add(OnnxProtos.BatchedTensor(net.InputName, DataType.Float, net.Channels, net.Height, net.Width));
        long otherParameters = EmitNormalization(net, graph);

        // The logits tensor takes the requested output name directly instead of going through an Identity node.
        string logits = options.LogitsOutputName ?? NetworkDescription.LogitsTensor;
        string Tensor(string name) => name == NetworkDescription.LogitsTensor ? logits : name;

        var weights = new WeightEmitter(graph);
        var layers = new List<OnnxLayerSize>();
        foreach (NetworkNode node in nodes)
        {
            string input = Tensor(node.Input), output = Tensor(node.Output);
            switch (node)
            {
                case Conv2dNode conv:
                    layers.Add(weights.Emit(conv.Name, "Conv", [conv.OutChannels, conv.InChannels, conv.KernelH, conv.KernelW],
                        conv.Weight, conv.Prunable, options.WeightEncoding));
                    otherParameters += EmitBias(graph, conv.Name, conv.Bias);
                    graph.Node.Add(OnnxProtos.Node("Conv", conv.Name, WithBias(input, conv.Name, conv.Bias), output,
                        OnnxProtos.Attr("kernel_shape", conv.KernelH, conv.KernelW),
                        OnnxProtos.Attr("strides", conv.StrideH, conv.StrideW),
                        OnnxProtos.Attr("pads", conv.PadH, conv.PadW, conv.PadH, conv.PadW)));
                    break;
                case LinearNode linear:
                    layers.Add(weights.Emit(linear.Name, "Gemm", [linear.OutFeatures, linear.InFeatures],
                        linear.Weight, linear.Prunable, options.WeightEncoding));
                    otherParameters += EmitBias(graph, linear.Name, linear.Bias);
                    graph.Node.Add(OnnxProtos.Node("Gemm", linear.Name, WithBias(input, linear.Name, linear.Bias), output,
                        OnnxProtos.Attr("transB", 1L)));
                    break;
                case BatchNormNode bn:
                    // Not foldable (its input is not a convolution read only by it): an eval-mode BatchNormalization node.
                    string[] parameters = [bn.Name + ".scale", bn.Name + ".bias", bn.Name + ".mean", bn.Name + ".var"];
                    float[][] values = [bn.Scale, bn.Bias, bn.Mean, bn.Var];
                    for (int i = 0; i < parameters.Length; i++)
                        graph.Initializer.Add(OnnxProtos.Float(parameters[i], values[i], values[i].Length));
                    otherParameters += 4L * bn.Scale.Length;
                    graph.Node.Add(OnnxProtos.Node("BatchNormalization", bn.Name, [input, .. parameters], output,
                        OnnxProtos.Attr("epsilon", bn.Epsilon)));
                    break;
                case ReluNode:
                    graph.Node.Add(OnnxProtos.Node("Relu", node.Name, [input], output));
                    break;
                case MaxPoolNode pool:
                    graph.Node.Add(OnnxProtos.Node("MaxPool", pool.Name, [input], output,
                        OnnxProtos.Attr("kernel_shape", pool.Kernel, pool.Kernel),
                        OnnxProtos.Attr("strides", pool.Stride, pool.Stride),
                        OnnxProtos.Attr("pads", pool.Pad, pool.Pad, pool.Pad, pool.Pad)));
                    break;
                case AvgPoolNode pool:
                    graph.Node.Add(OnnxProtos.Node("AveragePool", pool.Name, [input], output,
                        OnnxProtos.Attr("kernel_shape", pool.Kernel, pool.Kernel),
                        OnnxProtos.Attr("strides", pool.Stride, pool.Stride)));
                    break;
                case GlobalAvgPoolNode:
                    graph.Node.Add(OnnxProtos.Node("GlobalAveragePool", node.Name, [input], output));
                    break;
                case FlattenNode:
                    graph.Node.Add(OnnxProtos.Node("Flatten", node.Name, [input], output, OnnxProtos.Attr("axis", 1L)));
                    break;
                case AddNode add:
                    graph.Node.Add(OnnxProtos.Node("Add", add.Name, [input, Tensor(add.Other)], output));
                    break;
                default:
                    throw OnnxExportErrors.Network($"node '{node.Name}'", "a supported node type", node.GetType().Name);
            }
        }

        graph.Node.Add(OnnxProtos.Node("Softmax", "score", [logits], options.ScoreOutputName, OnnxProtos.Attr("axis", 1L)));
        graph.Output.Add(OnnxProtos.BatchedTensor(options.ScoreOutputName, DataType.Float, net.ClassCount));
        if (options.PredictedIndexOutputName is { } predicted)
        {
            // Arg-max of the logits, not of the scores: softmax rounding can tie classes whose logits differ.
            graph.Node.Add(OnnxProtos.Node("ArgMax", "predicted_index", [logits], predicted,
                OnnxProtos.Attr("axis", 1L), OnnxProtos.Attr("keepdims", 0L)));
            graph.Output.Add(OnnxProtos.BatchedTensor(predicted, DataType.Int64));
        }

        if (options.LogitsOutputName is not null)
            graph.Output.Add(OnnxProtos.BatchedTensor(logits, DataType.Float, net.ClassCount));

        RequireUniqueTensorNames(graph);

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        var contract = new OnnxContract(
            net.InputName, net.Channels, net.Height, net.Width, net.ClassCount, net.PixelScale, net.Mean, net.Std,
            options.WeightEncoding, options.ScoreOutputName, options.PredictedIndexOutputName, options.LogitsOutputName,
            layers.Where(l => l.Prunable).Select(l => new OnnxContractLayer(l.Name, l.OpType, l.Shape, l.KeptCount, l.Encoding)).ToList());
        foreach ((string key, string value) in OnnxContractMetadata.ToProperties(contract))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

        return new Emitted(model, layers, otherParameters);
    }

    /// <summary>
    /// Emits <c>(x * PixelScale - Mean[c]) / Std[c]</c> as Mul, Sub, Div (the same float operations, in the same order, as
    /// the training side, so results match bit for bit); steps that are identities are skipped. Returns the constant count.
    /// </summary>
    private static long EmitNormalization(NetworkDescription net, GraphProto graph)
    {
        var steps = new List<(string Op, string Constant, float[] Values, long[] Dims)>();
        long[] perChannel = [1, net.Channels, 1, 1];
        if (net.PixelScale != 1f)
            steps.Add(("Mul", PixelScaleTensor, [net.PixelScale], []));
        if (net.Mean.Any(m => m != 0f))
            steps.Add(("Sub", MeanTensor, net.Mean, perChannel));
        if (net.Std.Any(s => s != 1f))
            steps.Add(("Div", StdTensor, net.Std, perChannel));

        string current = net.InputName;
        if (steps.Count == 0)
        {
            graph.Node.Add(OnnxProtos.Node("Identity", "normalize", [current], NetworkDescription.NormalizedTensor));
            return 0;
        }

        for (int i = 0; i < steps.Count; i++)
        {
            (string op, string constant, float[] values, long[] dims) = steps[i];
            string output = i == steps.Count - 1 ? NetworkDescription.NormalizedTensor : $"input.{op.ToLowerInvariant()}";
            graph.Initializer.Add(OnnxProtos.Float(constant, values, dims));
            graph.Node.Add(OnnxProtos.Node(op, $"normalize.{op.ToLowerInvariant()}", [current, constant], output));
            current = output;
        }

        return steps.Sum(s => (long)s.Values.Length);
    }

    private static long EmitBias(GraphProto graph, string layerName, float[]? bias)
    {
        if (bias is null)
            return 0;
        graph.Initializer.Add(OnnxProtos.Float(layerName + ".bias", bias, bias.Length));
        return bias.Length;
    }

    private static string[] WithBias(string input, string layerName, float[]? bias) =>
        bias is null ? [input, WeightEmitter.WeightName(layerName)] : [input, WeightEmitter.WeightName(layerName), layerName + ".bias"];

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
        $"Image classifier exported by {ProducerName}. Input '{net.InputName}': float [batch,{net.Channels},{net.Height},{net.Width}] raw pixels, " +
        $"normalised in-graph as (x*{net.PixelScale} - mean[c]) / std[c]. Output '{options.ScoreOutputName}': softmax over {net.ClassCount} classes. " +
        $"Input contract and per-layer sparsity in metadata_props '{OnnxContractMetadata.Prefix}*'.");
}
