using Onnx;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Adds the weight tensor of one convolution or linear layer to a graph in the requested encoding, falling back to a
/// dense initializer where that is smaller, and reports what it wrote.
/// </summary>
internal sealed class WeightEmitter(GraphProto graph)
{
    // Shape tensors and the CumSum axis are shared by all layers that need them; emitted once, on first use.
    private readonly Dictionary<string, TensorProto> _shared = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sharedNodes = new(StringComparer.Ordinal);

    /// <summary>
    /// Emits the weight of layer <paramref name="layerName"/> as the tensor <c>{layerName}.weight</c> and returns its report.
    /// Non-prunable weights are always dense.
    /// </summary>
    public OnnxLayerSize Emit(string layerName, string opType, long[] shape, float[] weight, bool prunable, OnnxWeightEncoding requested)
    {
        string name = WeightName(layerName);
        long kept = weight.LongCount(w => w != 0f);
        Candidate dense = Dense(name, shape, weight);
        Candidate chosen = (prunable ? requested : OnnxWeightEncoding.Dense) switch
        {
            OnnxWeightEncoding.Compact => Smaller(Compact(name, shape, weight, kept), dense),
            OnnxWeightEncoding.SparseInitializer => Smaller(Sparse(name, shape, weight, kept), dense),
            _ => dense,
        };

        Commit(chosen);
        return new OnnxLayerSize(layerName, opType, shape, prunable, kept, chosen.Encoding, chosen.Bytes);
    }

    /// <summary>The tensor name the layer's operator reads its weight from.</summary>
    public static string WeightName(string layerName) => layerName + ".weight";

    // Ties go to dense: same size, simpler file.
    private static Candidate Smaller(Candidate encoded, Candidate dense) => encoded.Bytes < dense.Bytes ? encoded : dense;

    private static Candidate Dense(string name, long[] shape, float[] weight)
    {
        var candidate = new Candidate(OnnxWeightEncoding.Dense);
        candidate.Initializers.Add(OnnxProtos.Float(name, weight, shape));
        return candidate;
    }

    private static Candidate Sparse(string name, long[] shape, float[] weight, long kept)
    {
        var values = new float[kept];
        var indices = new long[kept];
        int k = 0;
        for (int i = 0; i < weight.Length; i++)
        {
            if (weight[i] == 0f)
                continue;
            values[k] = weight[i];
            indices[k++] = i;
        }

        // onnx.checker accepts only INT64 indices; linear indices (1-D) in ascending order are the spec's compact form.
        // The sparse tensor sits in a Constant node's sparse_value rather than in GraphProto.sparse_initializer: onnx's
        // strict type inference (check_model full_check) types a sparse initializer as sparse_tensor(float), which Conv and
        // Gemm reject, whereas a Constant's output is typed as a dense tensor of the sparse tensor's dims. ONNX Runtime
        // densifies it at load either way. The values keep no name: the node's output names the weight.
        var sparse = new SparseTensorProto
        {
            Values = OnnxProtos.Float("", values, kept),
            Indices = OnnxProtos.Int64("", indices, kept),
        };
        sparse.Dims.Add(shape);
        var candidate = new Candidate(OnnxWeightEncoding.SparseInitializer);
        candidate.Nodes.Add(OnnxProtos.Node("Constant", null, [], name, OnnxProtos.Attr("sparse_value", sparse)));
        return candidate;
    }

    private Candidate Compact(string name, long[] shape, float[] weight, long kept)
    {
        var candidate = new Candidate(OnnxWeightEncoding.Compact);
        string shapeName = Shared(candidate, $"shape.{string.Join('x', shape)}", () => shape);
        if (kept == 0)
        {
            // Nothing kept: the whole weight is a constant zero of the right shape (ConstantOfShape defaults to float 0).
            candidate.Nodes.Add(OnnxProtos.Node("ConstantOfShape", null, [shapeName], name));
            return candidate;
        }

        (byte[] gaps, float[] values) = GapCoding.Encode(weight);
        string numelName = Shared(candidate, $"numel.{weight.Length}", () => [weight.LongLength]);
        string axisName = Shared(candidate, "cumsum.axis", () => [], scalar: true);
        string zerosName = $"zeros.{weight.Length}";
        if (!_sharedNodes.Contains(zerosName) && candidate.SharedNodes.All(n => n.Output[0] != zerosName))
            candidate.SharedNodes.Add(OnnxProtos.Node("ConstantOfShape", null, [numelName], zerosName));

        string gapsName = name + ".gaps", valuesName = name + ".kept";
        candidate.Initializers.Add(OnnxProtos.UInt8(gapsName, gaps, gaps.Length));
        candidate.Initializers.Add(OnnxProtos.Float(valuesName, values, values.Length));

        // Every input below is an initializer, so ONNX Runtime constant-folds this chain once at session creation and the
        // Conv/Gemm sees an ordinary constant weight (prepacked like a dense one). Intermediate names are kept short
        // because each appears twice per layer; the zero vector is shared by all layers of the same element count.
        string gaps64 = name + ".g64", positions = name + ".pos", flat = name + ".flat";
        candidate.Nodes.Add(OnnxProtos.Node("Cast", null, [gapsName], gaps64, OnnxProtos.Attr("to", (long)TensorProto.Types.DataType.Int64)));
        candidate.Nodes.Add(OnnxProtos.Node("CumSum", null, [gaps64, axisName], positions));
        candidate.Nodes.Add(OnnxProtos.Node("ScatterElements", null, [zerosName, positions, valuesName], flat));
        candidate.Nodes.Add(OnnxProtos.Node("Reshape", null, [flat, shapeName], name));
        return candidate;
    }

    /// <summary>Names a shared int64 constant, adding it to the candidate only if no earlier layer emitted it.</summary>
    private string Shared(Candidate candidate, string name, Func<long[]> values, bool scalar = false)
    {
        if (!_shared.ContainsKey(name) && candidate.SharedInitializers.All(t => t.Name != name))
        {
            long[] data = scalar ? [0L] : values();
            candidate.SharedInitializers.Add(OnnxProtos.Int64(name, data, scalar ? [] : [data.Length]));
        }

        return name;
    }

    private void Commit(Candidate candidate)
    {
        foreach (TensorProto tensor in candidate.SharedInitializers)
        {
            _shared.Add(tensor.Name, tensor);
            graph.Initializer.Add(tensor);
        }

        foreach (NodeProto node in candidate.SharedNodes)
        {
            _sharedNodes.Add(node.Output[0]);
            graph.Node.Add(node);
        }

        graph.Initializer.Add(candidate.Initializers);
        graph.Node.Add(candidate.Nodes);
    }

    /// <summary>One way to store a weight: what it adds to the graph and how many bytes that costs.</summary>
    private sealed class Candidate(OnnxWeightEncoding encoding)
    {
        public OnnxWeightEncoding Encoding { get; } = encoding;
        public List<TensorProto> Initializers { get; } = [];
        public List<TensorProto> SharedInitializers { get; } = [];
        public List<NodeProto> SharedNodes { get; } = [];
        public List<NodeProto> Nodes { get; } = [];

        public long Bytes =>
            Initializers.Concat(SharedInitializers).Sum(OnnxProtos.FieldBytes)
            + Nodes.Concat(SharedNodes).Sum(OnnxProtos.FieldBytes);
    }
}
