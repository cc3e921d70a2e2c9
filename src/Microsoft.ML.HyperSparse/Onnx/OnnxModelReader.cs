using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>Parses ONNX bytes and rejects what is not a complete model, with a message that says what was found.</summary>
internal static class OnnxModelReader
{
    /// <summary>Parses a ModelProto and checks that it is whole: IR version, graph, default-domain opset, every tensor defined.</summary>
    /// <param name="bytes">The serialized model.</param>
    /// <param name="source">What the bytes came from, for messages (a path, a zip entry).</param>
    /// <exception cref="InvalidDataException">Not an ONNX model, or a truncated or corrupt one; the message names <paramref name="source"/>.</exception>
    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.IsEmpty)
            throw Invalid(source, "an empty file");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Invalid(source, $"bytes that do not parse as an ONNX ModelProto (truncated or corrupt: {e.Message})", e);
        }

        if (model.IrVersion <= 0 || model.Graph is null)
            throw Invalid(source, $"no ONNX model (ir_version {model.IrVersion}, {(model.Graph is null ? "no graph" : "a graph")})");
        if (DefaultOpset(model) is null)
            throw Invalid(source, "an ONNX model without a default-domain opset_import (truncated or corrupt)");

        GraphProto graph = model.Graph;
        var defined = new HashSet<string>(StringComparer.Ordinal);
        defined.UnionWith(graph.Input.Select(i => i.Name));
        defined.UnionWith(graph.Initializer.Select(t => t.Name));
        defined.UnionWith(graph.SparseInitializer.Select(t => t.Values?.Name ?? ""));
        defined.UnionWith(graph.Node.SelectMany(n => n.Output));
        foreach (NodeProto node in graph.Node)
        foreach (string input in node.Input.Where(i => i.Length > 0 && !defined.Contains(i)))
            throw Invalid(source, $"an ONNX graph whose node '{OnnxConstantFolder.NodeLabel(node)}' reads tensor '{input}', which nothing defines (truncated or corrupt)");
        foreach (ValueInfoProto output in graph.Output.Where(o => !defined.Contains(o.Name)))
            throw Invalid(source, $"an ONNX graph whose output '{output.Name}' nothing defines (truncated or corrupt)");
        return model;
    }

    /// <summary>Version of the default ("" or "ai.onnx") operator set, or null.</summary>
    public static long? DefaultOpset(ModelProto model) =>
        model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version;

    private static InvalidDataException Invalid(string source, string found, Exception? inner = null) =>
        new($"Cannot inspect '{source}': expected an ONNX model, found {found}.", inner);
}
