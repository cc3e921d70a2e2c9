using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Pruning;

/// <summary>
/// Chooses the layers kept dense — outside the regulariser and the global magnitude threshold — from exact names or glob
/// patterns. A layer's name is its weight's state-dict name without <c>.weight</c> (e.g. <c>conv1</c>,
/// <c>layer2.0.shortcut.conv</c>, <c>fc</c>), which is also the ONNX node name; an entry may carry the <c>.weight</c>
/// suffix the training report and the inspector print. In a pattern <c>*</c> matches any run of characters (dots included)
/// and <c>?</c> one character; matching is case-sensitive, as the names are.
/// </summary>
internal static class LayerSelection
{
    /// <summary>The suffix of a layer's weight in the state dict.</summary>
    public const string WeightSuffix = ".weight";

    /// <summary>The layer name of a state-dict weight name: "layer1.0.conv1.weight" → "layer1.0.conv1".</summary>
    public static string LayerName(string weightName) =>
        weightName.EndsWith(WeightSuffix, StringComparison.Ordinal) ? weightName[..^WeightSuffix.Length] : weightName;

    /// <summary>
    /// The layer names (without <c>.weight</c>) that <paramref name="entries"/> select, in network order. Throws an
    /// <see cref="ArgumentException"/> whose parameter is <paramref name="option"/> when an entry is empty, when an entry
    /// matches no layer, or when every layer would be kept dense (κ would apply to nothing); the message lists the valid names.
    /// </summary>
    /// <param name="layerNames">The network's prunable layer names, in network order (with or without <c>.weight</c>).</param>
    /// <param name="entries">Exact names or glob patterns; null or empty selects nothing.</param>
    /// <param name="network">The network's name for messages, e.g. "LeNet5".</param>
    /// <param name="option">The option's name for messages and <see cref="ArgumentException.ParamName"/>.</param>
    public static IReadOnlyList<string> Resolve(IReadOnlyList<string> layerNames, IReadOnlyList<string>? entries, string network, string option)
    {
        ArgumentNullException.ThrowIfNull(layerNames);
        var names = layerNames.Select(LayerName).ToList();
        if (entries is null || entries.Count == 0) return Array.Empty<string>();

        var selected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (string.IsNullOrWhiteSpace(entry))
                throw Error(option, $"entry {Show(entry)} is empty", network, names);
            var pattern = LayerName(entry.Trim());
            var matched = names.Where(n => Matches(n, pattern)).ToList();
            if (matched.Count == 0)
                throw Error(option, $"entry '{entry}' matches no layer of {network}", network, names);
            selected.UnionWith(matched);
        }
        if (selected.Count == names.Count)
            throw Error(option, $"entries {string.Join(", ", entries.Select(e => $"'{e}'"))} keep every layer of {network} dense, " +
                                "so nothing is left to prune; at least one layer must stay prunable", network, names);
        return names.Where(selected.Contains).ToList();
    }

    /// <summary>Glob match of a whole name: <c>*</c> any run of characters (also none), <c>?</c> exactly one, all else literal.</summary>
    public static bool Matches(string name, string pattern)
    {
        int n = 0, p = 0, star = -1, resume = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || (pattern[p] != '*' && pattern[p] == name[n])))
            {
                n++;
                p++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                // Remember the star and first let it match nothing; widen it by one character on each later mismatch.
                star = p++;
                resume = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    private static ArgumentException Error(string option, string problem, string network, IReadOnlyList<string> names) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"Option '{option}': {problem}. Expected exact layer names or glob patterns (* any characters, ? one character) " +
            $"over the {names.Count} prunable layers of {network}: {string.Join(", ", names)}."), option);

    private static string Show(string? value) => value is null ? "null" : $"'{value}'";
}
