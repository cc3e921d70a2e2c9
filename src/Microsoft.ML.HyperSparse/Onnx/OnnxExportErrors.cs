namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// The one way the ONNX exporter reports bad input: every message names the offending node, tensor or option,
/// what was expected and what was found.
/// </summary>
internal static class OnnxExportErrors
{
    /// <summary>A problem with the network description (a node, a tensor, a parameter array).</summary>
    public static ArgumentException Network(string subject, string expected, string found) =>
        new($"ONNX export: {subject}: expected {expected}, found {found}.", "net");

    /// <summary>A problem with an <see cref="OnnxExportOptions"/> value.</summary>
    public static ArgumentException Option(string option, string expected, string found) =>
        new($"ONNX export: option {option}: expected {expected}, found {found}.", "options");
}
