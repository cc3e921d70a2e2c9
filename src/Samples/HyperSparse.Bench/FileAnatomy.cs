using Google.Protobuf;
using Microsoft.ML.HyperSparse.Onnx;
using Onnx;

namespace HyperSparse.Bench;

/// <summary>
/// Where the bytes of one written ONNX file go, in parts that add up to the file size exactly. Entries are told apart by
/// their role in the graph (what the layer weights are computed from, found by <see cref="OnnxConstantFolder"/>) and by
/// the writer's naming of the tensors it generates (<c>code</c>: the gap stream, <c>v</c>/<c>q</c>: the kept values,
/// <c>{layer}.scale</c>: int8 scales, <c>{layer}.weight</c>/<c>{layer}.q</c>: a weight stored whole).
/// </summary>
/// <param name="Values">Raw bytes of the shared kept-value tensor(s) (float32 or int8).</param>
/// <param name="GapStream">Raw bytes of the gap stream(s).</param>
/// <param name="StoredWeights">Raw bytes of weights stored whole (dense layers, sparse-initializer values and indices).</param>
/// <param name="Scales">Raw bytes of the int8 scale data: the two 16-entry scale-table factors and one table index per output channel.</param>
/// <param name="BiasesAndNormalisation">Raw bytes of biases, batch-norm parameters and the input normalisation constants.</param>
/// <param name="TensorHeaders">Everything else of every initializer: names, dims, data type, protobuf tags and lengths.</param>
/// <param name="DecodeNodes">Nodes of the shared decode chain (unpacking bits to positions, the scatter into one flat tensor).</param>
/// <param name="DecodeConstants">Whole small initializers the decode chain reads (shift amounts, radix, scalar shapes).</param>
/// <param name="LayerSplit">The Split node cutting the decoded flat tensor into layers.</param>
/// <param name="PerLayerNodes">Nodes that exist once per layer to rebuild its weight (Reshape; Cast and Mul for int8; sparse Constants without their payload).</param>
/// <param name="PerLayerConstants">Whole initializers read only by per-layer nodes (the Reshape target shapes).</param>
/// <param name="NetworkNodes">The network itself: normalisation, Conv, Gemm, ReLU, Add, pooling, Softmax nodes.</param>
/// <param name="InputsOutputs">Graph input and output declarations and the graph name.</param>
/// <param name="Metadata">The metadata_props entries (the scoring contract).</param>
/// <param name="DocString">The graph's doc string.</param>
/// <param name="ModelHeader">IR version, producer, opset import and the graph field's own tag and length.</param>
/// <param name="Names">Of all the above (not an extra part): the strings that name tensors and nodes — initializer names, node
/// names, node input and output references, graph input and output names — with their protobuf tag and length.</param>
/// <param name="NetworkNodeNames">Of <paramref name="NetworkNodes"/>: the same strings in the network's own nodes.</param>
internal sealed record FileAnatomy(
    long Values, long GapStream, long StoredWeights, long Scales, long BiasesAndNormalisation, long TensorHeaders,
    long DecodeNodes, long DecodeConstants, long LayerSplit, long PerLayerNodes, long PerLayerConstants, long NetworkNodes,
    long InputsOutputs, long Metadata, long DocString, long ModelHeader, long Total, int StreamRemainderBits,
    long Names = 0, long NetworkNodeNames = 0)
{
    public long Sum => Values + GapStream + StoredWeights + Scales + BiasesAndNormalisation + TensorHeaders + DecodeNodes + DecodeConstants +
                       LayerSplit + PerLayerNodes + PerLayerConstants + NetworkNodes + InputsOutputs + Metadata + DocString + ModelHeader;

    public static FileAnatomy Of(byte[] bytes, IReadOnlyList<OnnxLayerSize> layers)
    {
        var model = ModelProto.Parser.ParseFrom(bytes);
        var graph = model.Graph;
        var folder = new OnnxConstantFolder(graph, OnnxModelWriter.OpsetVersion);
        // The writer gives tensors short generated names, so entries are classified by the graph's structure: which layers'
        // weights each one is rebuilt into (one layer: per-layer; several: the shared stream and decode chain).
        var layerNames = layers.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var weightOf = graph.Node.Where(n => n.OpType is "Conv" or "Gemm" && layerNames.Contains(n.Name)).ToDictionary(n => n.Name, n => n.Input[1], StringComparer.Ordinal);
        var elementsOf = layers.ToDictionary(l => weightOf[l.Name], l => l.ParameterCount, StringComparer.Ordinal);
        var users = new Dictionary<IMessage, int>(ReferenceEqualityComparer.Instance);
        var rebuild = new HashSet<IMessage>(ReferenceEqualityComparer.Instance);
        foreach (var layer in layers)
            foreach (var entry in folder.Sources(weightOf[layer.Name]))
            {
                rebuild.Add(entry);
                users[entry] = users.GetValueOrDefault(entry) + 1;
            }

        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        foreach (var input in node.Input)
            (consumers.TryGetValue(input, out var list) ? list : consumers[input] = new List<NodeProto>()).Add(node);
        bool IsPerLayerNode(NodeProto n) => users.GetValueOrDefault(n) == 1;
        bool IsLayerSplit(NodeProto n) => n.OpType == "Split" && n.Output.Count > 1 && users.GetValueOrDefault(n) > 1
            && n.Output.All(o => consumers.TryGetValue(o, out var c) && c.All(IsPerLayerNode));
        static long Elements(TensorProto t) => t.Dims.Aggregate(1L, (a, b) => a * b);

        long values = 0, gaps = 0, stored = 0, scales = 0, biases = 0, headers = 0, decodeConstants = 0, perLayerConstants = 0;
        int remainderBits = 0;
        foreach (var tensor in graph.Initializer)
        {
            long whole = OnnxProtos.FieldBytes(tensor), payload = Payload(tensor);
            var name = tensor.Name;
            string Base(string n) => n.Contains('_') ? n[..n.IndexOf('_')] : n;
            if (!rebuild.Contains(tensor))
            {
                biases += payload;
                headers += whole - payload;
            }
            else if (Base(name) == "code")
            {
                gaps += payload;
                headers += whole - payload;
            }
            else if (users[tensor] > 1 && Base(name) is "v" or "q")
            {
                values += payload;
                headers += whole - payload;
            }
            else if (Base(name) == "sc")
            {
                scales += payload;
                headers += whole - payload;
            }
            else if (users[tensor] == 1 && elementsOf.ContainsValue(Elements(tensor)) && Elements(tensor) > 1)
            {
                stored += payload;
                headers += whole - payload;
            }
            else if (users[tensor] == 1)
                perLayerConstants += whole;
            else
            {
                decodeConstants += whole;
                if (Base(name) == "pow") remainderBits = (int)tensor.Dims.Aggregate(1L, (a, b) => a * b);
            }
        }

        static long Text(string s) => s.Length == 0 ? 0 : 1 + CodedOutputStream.ComputeStringSize(s);
        static long NodeNames(NodeProto n) => Text(n.Name) + n.Input.Sum(i => 1 + CodedOutputStream.ComputeStringSize(i)) + n.Output.Sum(o => 1 + CodedOutputStream.ComputeStringSize(o));
        long names = graph.Initializer.Sum(t => Text(t.Name)) + graph.Node.Sum(NodeNames) + graph.Input.Concat(graph.Output).Sum(v => Text(v.Name));
        long networkNames = 0;
        long decodeNodes = 0, split = 0, perLayerNodes = 0, networkNodes = 0;
        foreach (var node in graph.Node)
        {
            long whole = OnnxProtos.FieldBytes(node);
            if (!rebuild.Contains(node))
            {
                networkNodes += whole;
                networkNames += NodeNames(node);
            }
            else if (IsLayerSplit(node))
                split += whole;
            else if (node.OpType == "Constant" && node.Attribute.FirstOrDefault(a => a.Name == "sparse_value") is { } sparse)
            {
                // SparseInitializer: the values and indices are the stored weight; the rest is the node.
                long payload = Payload(sparse.SparseTensor.Values) + Payload(sparse.SparseTensor.Indices);
                stored += payload;
                perLayerNodes += whole - payload;
            }
            else if (IsPerLayerNode(node))
                perLayerNodes += whole;
            else
                decodeNodes += whole;
        }

        long io = graph.Input.Sum(OnnxProtos.FieldBytes) + graph.Output.Sum(OnnxProtos.FieldBytes) + graph.ValueInfo.Sum(OnnxProtos.FieldBytes)
                  + (graph.Name.Length == 0 ? 0 : 1 + CodedOutputStream.ComputeStringSize(graph.Name));
        long doc = graph.DocString.Length == 0 ? 0 : 1 + CodedOutputStream.ComputeStringSize(graph.DocString);
        long metadata = model.MetadataProps.Sum(OnnxProtos.FieldBytes);
        long graphBody = graph.CalculateSize();
        long graphRest = graphBody - graph.Initializer.Sum(OnnxProtos.FieldBytes) - graph.Node.Sum(OnnxProtos.FieldBytes) - io - doc
                         - graph.SparseInitializer.Sum(OnnxProtos.FieldBytes);
        if (graph.SparseInitializer.Count > 0)
            stored += graph.SparseInitializer.Sum(OnnxProtos.FieldBytes);
        long header = bytes.LongLength - graphBody - metadata + graphRest;
        var result = new FileAnatomy(values, gaps, stored, scales, biases, headers, decodeNodes, decodeConstants, split, perLayerNodes,
            perLayerConstants, networkNodes, io, metadata, doc, header, bytes.LongLength, remainderBits, names, networkNames);
        if (result.Sum != bytes.LongLength)
            throw new InvalidOperationException($"Byte anatomy adds up to {result.Sum}, the file has {bytes.LongLength} bytes.");
        return result;
    }

    // The writer stores every tensor in raw_data.
    private static long Payload(TensorProto tensor) => tensor.RawData.Length;
}
