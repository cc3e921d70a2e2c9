using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Computes the tensors of a graph that depend on constants only (initializers, sparse initializers, Constant nodes and
/// what standard operators make of them) — what ONNX Runtime folds at session creation — and names the graph entries
/// each such tensor is made from.
/// </summary>
internal sealed class OnnxConstantFolder
{
    private readonly Dictionary<string, TensorProto> initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SparseTensorProto> sparseInitializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConstantTensor> values = new(StringComparer.Ordinal);
    private readonly HashSet<string> constant = new(StringComparer.Ordinal);
    private readonly long opset;

    public OnnxConstantFolder(GraphProto graph, long opset)
    {
        this.opset = opset;
        foreach (TensorProto tensor in graph.Initializer)
            initializers.TryAdd(tensor.Name, tensor);
        foreach (SparseTensorProto sparse in graph.SparseInitializer)
            sparseInitializers.TryAdd(sparse.Values?.Name ?? "", sparse);
        foreach (NodeProto node in graph.Node)
        foreach (string output in node.Output.Where(o => o.Length > 0))
            producers.TryAdd(output, node);
        // ONNX lists nodes in topological order, so one forward pass finds every constant tensor (no recursion through deep
        // graphs). A node without inputs is constant only if it is a Constant (RandomNormal and the like are not).
        // An initializer that is also listed as a graph input is a default a caller may override; the inspector reports the default.
        constant.UnionWith(initializers.Keys.Concat(sparseInitializers.Keys));
        foreach (NodeProto node in graph.Node)
        {
            bool fromConstants = node.Input.Count == 0
                ? node.OpType == "Constant"
                : node.Input.All(i => i.Length == 0 || constant.Contains(i));
            if (fromConstants)
                constant.UnionWith(node.Output.Where(o => o.Length > 0));
        }
    }

    /// <summary>The node that computes <paramref name="name"/>, or null for an initializer or graph input.</summary>
    public NodeProto? Producer(string name) => producers.GetValueOrDefault(name);

    public bool IsInitializer(string name) => initializers.ContainsKey(name);

    public bool IsSparseInitializer(string name) => sparseInitializers.ContainsKey(name);

    /// <summary>Whether <paramref name="name"/> is computed from constants only (whether or not the inspector can evaluate it).</summary>
    public bool IsConstant(string name) => constant.Contains(name);

    /// <summary>The value of a constant tensor.</summary>
    /// <exception cref="OnnxEvaluationException">The tensor is not constant, or an operator or type on its way is not supported.</exception>
    public ConstantTensor Evaluate(string name)
    {
        if (values.TryGetValue(name, out ConstantTensor? known))
            return known;
        if (!IsConstant(name))
            throw new OnnxEvaluationException($"tensor '{name}' depends on a graph input");
        if (initializers.TryGetValue(name, out TensorProto? tensor))
            return values[name] = ConstantTensor.Read(tensor);
        if (sparseInitializers.TryGetValue(name, out SparseTensorProto? sparse))
            return values[name] = ConstantTensor.Read(sparse);

        NodeProto node = producers[name];
        ConstantTensor?[] inputs = node.Input.Select(i => i.Length == 0 ? null : Evaluate(i)).ToArray();
        ConstantTensor[] outputs;
        try
        {
            outputs = ConstantOps.Evaluate(node, inputs, opset);
        }
        catch (OnnxEvaluationException e)
        {
            throw new OnnxEvaluationException($"node '{NodeLabel(node)}': {e.Message}");
        }

        for (int i = 0; i < node.Output.Count && i < outputs.Length; i++)
            if (node.Output[i].Length > 0)
                values[node.Output[i]] = outputs[i];
        return values.TryGetValue(name, out ConstantTensor? value)
            ? value
            : throw new OnnxEvaluationException($"node '{NodeLabel(node)}' gives no output '{name}'");
    }

    /// <summary>
    /// The graph entries (nodes, initializers, sparse initializers) that <paramref name="name"/> is computed from, its own
    /// producer or initializer included, in no particular order.
    /// </summary>
    public IReadOnlyCollection<IMessage> Sources(string name)
    {
        var found = new HashSet<IMessage>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>([name]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.TryPop(out string? current))
        {
            if (!seen.Add(current))
                continue;
            if (initializers.TryGetValue(current, out TensorProto? tensor))
                found.Add(tensor);
            else if (sparseInitializers.TryGetValue(current, out SparseTensorProto? sparse))
                found.Add(sparse);
            else if (producers.TryGetValue(current, out NodeProto? node) && found.Add(node))
                foreach (string input in node.Input.Where(i => i.Length > 0))
                    pending.Push(input);
        }

        return found;
    }

    /// <summary>A node's name, or its op type and first output when it has none.</summary>
    public static string NodeLabel(NodeProto node) => node.Name.Length > 0 ? node.Name : $"{node.OpType} → {node.Output.FirstOrDefault()}";
}
