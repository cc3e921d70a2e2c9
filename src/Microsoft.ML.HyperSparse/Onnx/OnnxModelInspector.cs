using System.Globalization;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>One layer that reads a stored weight (Conv, ConvTranspose, Gemm, MatMul), as found in the graph.</summary>
/// <param name="NodeName">The operator node's name (the writer's layer name), or the weight name when the node has none.</param>
/// <param name="WeightName">The tensor the node reads as its weight.</param>
/// <param name="Size">Shape, kept count, encoding and bytes, read from the graph; <see cref="OnnxLayerSize.Prunable"/> comes
/// from the metadata's layer list (every layer counts as prunable in a file without HyperSparse metadata).</param>
internal sealed record OnnxInspectedLayer(string NodeName, string WeightName, OnnxLayerSize Size);

/// <summary>A graph input or output: name, element type and dimensions (a symbolic dimension by its name, unknown as "?").</summary>
internal sealed record OnnxTensorInfo(string Name, string ElementType, IReadOnlyList<string> Dims);

/// <summary>What <see cref="OnnxModelInspector.Inspect"/> read from a model.</summary>
/// <param name="ProducerName">ModelProto.producer_name.</param>
/// <param name="ProducerVersion">ModelProto.producer_version.</param>
/// <param name="IrVersion">ModelProto.ir_version.</param>
/// <param name="OpsetVersion">Default-domain opset version.</param>
/// <param name="Layers">Weight-reading layers in graph order.</param>
/// <param name="Size">Size accounting in the exporter's terms (same bound), computed from the graph.</param>
/// <param name="Contract">The HyperSparse metadata, or null when the file has none (or it does not parse).</param>
/// <param name="Inputs">Graph inputs fed at run time.</param>
/// <param name="Outputs">Graph outputs.</param>
/// <param name="Warnings">What could not be read, and every disagreement between the metadata and the graph.</param>
internal sealed record OnnxInspection(
    string ProducerName, string ProducerVersion, long IrVersion, long OpsetVersion,
    IReadOnlyList<OnnxInspectedLayer> Layers, OnnxSizeReport Size, OnnxContract? Contract,
    IReadOnlyList<OnnxTensorInfo> Inputs, IReadOnlyList<OnnxTensorInfo> Outputs, IReadOnlyList<string> Warnings);

/// <summary>
/// Reads back what an ONNX file ships, per layer, from the graph itself: every weight is decoded (dense initializers, sparse
/// Constant nodes, and in-graph decode chains such as the Compact gap code, evaluated like ONNX Runtime's constant folding)
/// and its non-zeros counted. The HyperSparse metadata supplies the input contract and which layers are pruned, and is
/// cross-checked against the graph.
/// </summary>
internal static class OnnxModelInspector
{
    private static readonly HashSet<string> LayerOps = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };

    /// <summary>Inspects a parsed model (see <see cref="OnnxModelReader.Parse"/>) whose serialized size is <paramref name="fileBytes"/>.</summary>
    public static OnnxInspection Inspect(ModelProto model, long fileBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        GraphProto graph = model.Graph;
        long opset = OnnxModelReader.DefaultOpset(model) ?? 0;
        var warnings = new List<string>();
        OnnxContract? contract = ReadContract(model, warnings);
        var folder = new OnnxConstantFolder(graph, opset);

        var found = new List<(NodeProto Node, string NodeName, string WeightName, ConstantTensor Weight, IReadOnlyCollection<IMessage> Sources)>();
        foreach (NodeProto node in graph.Node.Where(n => LayerOps.Contains(n.OpType) && n.Domain is "" or "ai.onnx"))
        {
            string? weightName = WeightInput(node, folder);
            if (weightName is null)
                continue;
            string nodeName = node.Name.Length > 0 ? node.Name : weightName;
            ConstantTensor weight;
            try
            {
                weight = folder.Evaluate(weightName);
            }
            catch (OnnxEvaluationException e)
            {
                warnings.Add($"Layer '{nodeName}' ({node.OpType}) left out: its weight '{weightName}' cannot be decoded: {e.Message}.");
                continue;
            }

            if (weight.Floats is not { } floats)
            {
                warnings.Add($"Layer '{nodeName}' ({node.OpType}) left out: its weight '{weightName}' is {weight.Type}, not float.");
                continue;
            }

            found.Add((node, nodeName, weightName, weight, folder.Sources(weightName)));
        }

        // Entries several layers are rebuilt from are shared out by the writer's rule, so the figures equal the report's.
        long[] kept = found.Select(f => f.Weight.Floats!.LongCount(w => w != 0f)).ToArray();
        long[] bytes = OnnxLayerBytes.Attribute(found.Select((f, i) => (f.Sources, kept[i])).ToList());
        var charged = new HashSet<IMessage>(found.SelectMany(f => f.Sources), ReferenceEqualityComparer.Instance);
        var layers = new List<OnnxInspectedLayer>();
        var weights = new List<(string Name, ConstantTensor Value)>();
        for (int i = 0; i < found.Count; i++)
        {
            var (node, nodeName, weightName, weight, sources) = found[i];
            bool prunable = contract is null || !contract.DenseLayers.Contains(nodeName);
            var size = new OnnxLayerSize(nodeName, node.OpType, weight.Dims, prunable, kept[i], Encoding(sources), bytes[i], IsQuantized(sources));
            // What the dead-channel shrink removed (from the metadata) gives the layer as trained: the graph plus the removed.
            if (contract?.Shrunk.FirstOrDefault(l => l.Layer == nodeName) is { } shrunk && weight.Dims.Length >= 2)
            {
                long[] original = weight.Dims.ToArray();
                original[0] += shrunk.OutputChannels;
                original[1] += shrunk.Inputs;
                size = size with { OriginalShape = original, OriginalKeptCount = kept[i] + shrunk.KeptWeights };
            }

            layers.Add(new OnnxInspectedLayer(nodeName, weightName, size));
            weights.Add((weightName, weight));
        }

        long otherParameters = OtherFloatParameters(graph, charged, warnings);
        long denseBytes = fileBytes - model.CalculateSize() + DenseEquivalent(model, charged, weights, contract).CalculateSize();
        var report = new OnnxSizeReport(fileBytes, denseBytes, otherParameters, layers.Select(l => l.Size).ToList())
        {
            OriginalOtherParameterCount = contract?.OtherParametersBeforeShrink ?? otherParameters,
        };

        var initializerNames = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        List<OnnxTensorInfo> inputs = graph.Input.Where(i => !initializerNames.Contains(i.Name)).Select(Describe).ToList();
        List<OnnxTensorInfo> outputs = graph.Output.Select(Describe).ToList();
        if (contract is not null)
            CrossCheck(contract, layers, inputs, outputs, folder, warnings);

        return new OnnxInspection(model.ProducerName, model.ProducerVersion, model.IrVersion, opset, layers, report, contract, inputs, outputs, warnings);
    }

    /// <summary>
    /// The weight a layer node reads: input 1 of Conv/ConvTranspose/Gemm, the constant operand of a MatMul — provided the
    /// node's other operand depends on the graph input (a node computing from constants only is part of a decode chain).
    /// </summary>
    private static string? WeightInput(NodeProto node, OnnxConstantFolder folder)
    {
        if (node.Input.Count < 2 || folder.IsConstant(node.Input[0]) == folder.IsConstant(node.Input[1]))
            return null;
        if (node.OpType == "MatMul")
            return folder.IsConstant(node.Input[1]) ? node.Input[1] : node.Input[0];
        return folder.IsConstant(node.Input[1]) ? node.Input[1] : null;
    }

    /// <summary>
    /// How a weight is stored, from the entries it is rebuilt from: values written into a zero tensor at decoded positions
    /// (or a zero tensor alone) is Compact; a sparse tensor is SparseInitializer; anything else — initializers or dense
    /// Constants, cast, scaled, reshaped, split or dequantised — is Dense.
    /// </summary>
    private static OnnxWeightEncoding Encoding(IReadOnlyCollection<IMessage> sources)
    {
        if (sources.Any(s => s is NodeProto { OpType: "ScatterElements" or "ScatterND" or "ConstantOfShape" }))
            return OnnxWeightEncoding.Compact;
        if (sources.Any(s => s is SparseTensorProto || s is NodeProto n && n.Attribute.Any(a => a.Name == "sparse_value")))
            return OnnxWeightEncoding.SparseInitializer;
        return OnnxWeightEncoding.Dense;
    }

    /// <summary>Whether the weight is rebuilt from int8 values (a quantised weight).</summary>
    private static bool IsQuantized(IReadOnlyCollection<IMessage> sources) => sources.Any(s => s switch
    {
        TensorProto t => t.DataType == (int)DataType.Int8,
        SparseTensorProto sparse => sparse.Values?.DataType == (int)DataType.Int8,
        NodeProto n => n.Attribute.Any(a => a.Name == "sparse_value" && a.SparseTensor.Values?.DataType == (int)DataType.Int8),
        _ => false,
    });

    private static OnnxContract? ReadContract(ModelProto model, List<string> warnings)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (StringStringEntryProto entry in model.MetadataProps)
            properties[entry.Key] = entry.Value;
        if (!properties.Keys.Any(k => k.StartsWith(OnnxContractMetadata.Prefix, StringComparison.Ordinal)))
        {
            if (model.ProducerName == OnnxModelWriter.ProducerName)
                warnings.Add($"The producer is {OnnxModelWriter.ProducerName}, but the file has no '{OnnxContractMetadata.Prefix}*' metadata (stripped or truncated); input contract and pruned layers come from the graph alone.");
            return null;
        }

        try
        {
            return OnnxContractMetadata.Read(properties);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or KeyNotFoundException)
        {
            warnings.Add($"The '{OnnxContractMetadata.Prefix}*' metadata cannot be read ({e.Message}); input contract and pruned layers come from the graph alone.");
            return null;
        }
    }

    /// <summary>Float elements of initializers and Constant nodes that are not part of any layer weight: biases, batch norms, normalisation.</summary>
    private static long OtherFloatParameters(GraphProto graph, HashSet<IMessage> charged, List<string> warnings)
    {
        long count = 0;
        foreach (TensorProto tensor in graph.Initializer.Where(t => !charged.Contains(t) && t.DataType == (int)DataType.Float))
            count += ElementCount(tensor.Dims, tensor.Name, warnings);
        foreach (SparseTensorProto sparse in graph.SparseInitializer.Where(t => !charged.Contains(t) && t.Values?.DataType == (int)DataType.Float))
            count += ElementCount(sparse.Values.Dims, sparse.Values.Name, warnings);
        foreach (NodeProto node in graph.Node.Where(n => n.OpType == "Constant" && !charged.Contains(n)))
        {
            AttributeProto? value = node.Attribute.FirstOrDefault();
            if (value?.Name == "value" && value.T.DataType == (int)DataType.Float)
                count += ElementCount(value.T.Dims, node.Output.FirstOrDefault() ?? "", warnings);
            else if (value?.Name == "sparse_value" && value.SparseTensor.Values?.DataType == (int)DataType.Float)
                count += ElementCount(value.SparseTensor.Values.Dims, node.Output.FirstOrDefault() ?? "", warnings);
            else if (value?.Name == "value_float")
                count += 1;
            else if (value?.Name == "value_floats")
                count += value.Floats.Count;
        }

        return count;
    }

    private static long ElementCount(IEnumerable<long> dims, string name, List<string> warnings)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (count >= 0)
            return count;
        warnings.Add($"Tensor '{name}' has a negative dimension; not counted.");
        return 0;
    }

    /// <summary>
    /// The model with every layer weight stored as a plain float initializer (and, for a HyperSparse file, metadata saying
    /// so): what the writer's Dense encoding produces for the same network.
    /// </summary>
    private static ModelProto DenseEquivalent(ModelProto model, HashSet<IMessage> charged, List<(string Name, ConstantTensor Value)> weights, OnnxContract? contract)
    {
        ModelProto dense = model.Clone();
        GraphProto source = model.Graph, target = dense.Graph;
        RemoveAt(target.Node, source.Node.Select((n, i) => charged.Contains(n) ? i : -1));
        RemoveAt(target.Initializer, source.Initializer.Select((t, i) => charged.Contains(t) ? i : -1));
        RemoveAt(target.SparseInitializer, source.SparseInitializer.Select((t, i) => charged.Contains(t) ? i : -1));
        foreach ((string name, ConstantTensor value) in weights.DistinctBy(w => w.Name))
            target.Initializer.Add(OnnxProtos.Float(name, value.Floats, value.Dims));

        if (contract is not null)
        {
            OnnxContract denseContract = contract with { WeightEncoding = OnnxWeightEncoding.Dense, Quantized = false };
            var values = OnnxContractMetadata.ToProperties(denseContract).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            foreach (StringStringEntryProto entry in dense.MetadataProps)
                if (values.TryGetValue(entry.Key, out string? value))
                    entry.Value = value;
        }

        return dense;
    }

    private static void RemoveAt<T>(Google.Protobuf.Collections.RepeatedField<T> list, IEnumerable<int> indices)
    {
        foreach (int index in indices.Where(i => i >= 0).OrderDescending())
            list.RemoveAt(index);
    }

    private static OnnxTensorInfo Describe(ValueInfoProto value)
    {
        TypeProto.Types.Tensor? tensor = value.Type?.TensorType;
        string type = tensor is null ? "?" : ((DataType)tensor.ElemType).ToString().ToLowerInvariant();
        IReadOnlyList<string> dims = tensor?.Shape?.Dim.Select(d =>
            d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString(CultureInfo.InvariantCulture)
            : d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? d.DimParam : "?").ToList() ?? [];
        return new OnnxTensorInfo(value.Name, type, dims);
    }

    /// <summary>Every statement of the metadata that the graph can confirm; a disagreement becomes a warning.</summary>
    private static void CrossCheck(OnnxContract contract, List<OnnxInspectedLayer> layers, List<OnnxTensorInfo> inputs,
        List<OnnxTensorInfo> outputs, OnnxConstantFolder folder, List<string> warnings)
    {
        void Differ(string what, object metadata, object graph) =>
            warnings.Add($"Metadata and graph disagree on {what}: metadata says {metadata}, the graph has {graph}.");

        foreach (string dense in contract.DenseLayers.Where(d => layers.All(l => l.NodeName != d)))
            warnings.Add($"Metadata lists layer '{dense}' as kept dense, which the graph does not have (or whose weight cannot be decoded).");
        foreach (OnnxShrunkLayer shrunk in contract.Shrunk.Where(s => layers.All(l => l.NodeName != s.Layer)))
            warnings.Add($"Metadata lists layer '{shrunk.Layer}' as shrunk, which the graph does not have (or whose weight cannot be decoded).");
        // The metadata states the trained network; the graph holds it minus what the dead-channel shrink removed.
        long kept = layers.Where(l => l.Size.Prunable).Sum(l => l.Size.OriginalKeptCount);
        long total = layers.Where(l => l.Size.Prunable).Sum(l => l.Size.OriginalParameterCount);
        string removed = contract.Shrunk.Count == 0 ? "" : " (with what the dead-channel shrink removed)";
        if (kept != contract.KeptWeights || total != contract.PrunableWeights)
            Differ("the kept weights of the pruned layers", $"{contract.KeptWeights:N0} of {contract.PrunableWeights:N0}", $"{kept:N0} of {total:N0}{removed}");
        foreach (OnnxInspectedLayer layer in layers.Where(l => l.Size.Quantized != contract.Quantized))
            Differ($"layer '{layer.NodeName}' storage", contract.Quantized ? "int8" : "float", layer.Size.Quantized ? "int8" : "float");

        string[] expectedDims = [contract.Channels.ToString(CultureInfo.InvariantCulture), contract.Height.ToString(CultureInfo.InvariantCulture),
            contract.Width.ToString(CultureInfo.InvariantCulture)];
        OnnxTensorInfo? input = inputs.FirstOrDefault(i => i.Name == contract.InputName);
        if (input is null)
            Differ("the input name", $"'{contract.InputName}'", $"inputs {string.Join(", ", inputs.Select(i => $"'{i.Name}'"))}");
        else if (input.Dims.Count != 4 || !input.Dims.Skip(1).SequenceEqual(expectedDims))
            Differ($"input '{contract.InputName}' shape", $"[batch,{string.Join(",", expectedDims)}]", $"[{string.Join(",", input.Dims)}]");

        string classes = contract.ClassCount.ToString(CultureInfo.InvariantCulture);
        foreach (string? name in new[] { contract.ScoreOutputName, contract.LogitsOutputName })
        {
            if (name is null)
                continue;
            OnnxTensorInfo? output = outputs.FirstOrDefault(o => o.Name == name);
            if (output is null)
                Differ("the outputs", $"'{name}'", $"outputs {string.Join(", ", outputs.Select(o => $"'{o.Name}'"))}");
            else if (output.Dims.LastOrDefault() != classes)
                Differ($"output '{name}' class count", classes, output.Dims.LastOrDefault() ?? "no dimension");
        }

        if (contract.PredictedIndexOutputName is { } predicted && outputs.All(o => o.Name != predicted))
            Differ("the outputs", $"'{predicted}'", $"outputs {string.Join(", ", outputs.Select(o => $"'{o.Name}'"))}");

        // The normalisation is baked in as constants named by the writer; a step that is an identity is left out.
        CheckConstant(folder, OnnxModelWriter.PixelScaleTensor, [contract.PixelScale], 1f, "the pixel scale", Differ);
        CheckConstant(folder, OnnxModelWriter.MeanTensor, contract.Mean, 0f, "the mean", Differ);
        CheckConstant(folder, OnnxModelWriter.StdTensor, contract.Std, 1f, "the standard deviation", Differ);
    }

    private static void CheckConstant(OnnxConstantFolder folder, string name, float[] expected, float identity, string what, Action<string, object, object> differ)
    {
        string Show(IEnumerable<float> values) => "[" + string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
        if (!folder.IsInitializer(name))
        {
            if (expected.Any(v => v != identity))
                differ(what, Show(expected), $"no tensor '{name}'");
            return;
        }

        float[]? found;
        try
        {
            found = folder.Evaluate(name).Floats;
        }
        catch (OnnxEvaluationException)
        {
            found = null;
        }

        if (found is null || !found.SequenceEqual(expected))
            differ(what, Show(expected), found is null ? $"an unreadable tensor '{name}'" : $"'{name}' = {Show(found)}");
    }
}
