using System.Text.Json.Nodes;

namespace HyperSparse.Cli.Training;

/// <summary>
/// Turns the trainer's "checkpoint was written by a run with other options or data … Saved: {json}  Now: {json}"
/// into the list of settings that differ (e.g. "WarmupEpochs 5 → 6").
/// </summary>
internal static class ResumeMismatch
{
    public static string? TryDescribe(string message)
    {
        var saved = message.IndexOf("Saved: ", StringComparison.Ordinal);
        var now = message.IndexOf("  Now: ", StringComparison.Ordinal);
        if (saved < 0 || now < saved) return null;
        try
        {
            var before = JsonNode.Parse(message[(saved + 7)..now]);
            var after = JsonNode.Parse(message[(now + 7)..]);
            var differences = new List<string>();
            Compare("", before, after, differences);
            return differences.Count == 0 ? "settings" : "settings: " + string.Join(", ", differences);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static void Compare(string path, JsonNode? a, JsonNode? b, List<string> differences)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
                Compare(path.Length == 0 || path == "Options" ? key : path + "." + key, oa[key], ob[key], differences);
            return;
        }
        var x = a?.ToJsonString() ?? "null";
        var y = b?.ToJsonString() ?? "null";
        if (x != y) differences.Add($"{Label(path)} {x} → {y}");
    }

    private static string Label(string key) => key switch
    {
        "Count" => "training images",
        "Mean" or "Std" or "PixelScale" => "data statistics (" + key + ")",
        _ => key,
    };
}
