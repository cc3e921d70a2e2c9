using System.Globalization;

namespace HyperSparse.Cli;

/// <summary>A usage error: wrong option, bad value, unusable input path. Exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>One option a command accepts: <c>--name value</c> (or <c>--name=value</c>), or a flag without value.</summary>
internal sealed record OptionSpec(string Name, string Expected, bool IsFlag = false, string? Default = null);

/// <summary>
/// The parsed arguments of one command. Every error names the option, what was expected and what was found, so the
/// message alone tells the user what to fix.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, OptionSpec> specs;

    private CommandLine(string command, IReadOnlyDictionary<string, OptionSpec> specs)
    {
        Command = command;
        this.specs = specs;
    }

    public string Command { get; }

    public List<string> Positional { get; } = new();

    public static CommandLine Parse(string command, IReadOnlyList<string> args, IEnumerable<OptionSpec> options, bool allowPositional = false)
    {
        var specs = options.ToDictionary(o => o.Name, StringComparer.Ordinal);
        var line = new CommandLine(command, specs);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                if (!allowPositional && i + 1 < args.Count) throw line.UnexpectedPositional(args[i + 1]);
                line.Positional.AddRange(args.Skip(i + 1));
                break;
            }
            if (!arg.StartsWith('-') || arg == "-")
            {
                if (!allowPositional) throw line.UnexpectedPositional(arg);
                line.Positional.Add(arg);
                continue;
            }
            string name = arg, inline = null!;
            var hasInline = false;
            var eq = arg.IndexOf('=');
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
                hasInline = true;
            }
            if (!specs.TryGetValue(name, out var spec))
                throw new UsageException(
                    $"{command}: unknown option '{name}'. Expected one of: {string.Join(", ", specs.Keys.Order(StringComparer.Ordinal))}.");
            if (line.values.ContainsKey(name))
                throw new UsageException($"{command}: option {name} is given twice; expected it at most once.");
            if (spec.IsFlag)
            {
                if (hasInline) throw new UsageException($"{command}: option {name} is a flag and takes no value; found '{inline}'.");
                line.values[name] = null;
                continue;
            }
            if (hasInline)
            {
                line.values[name] = inline;
                continue;
            }
            if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                throw new UsageException($"{command}: option {name}: expected {spec.Expected}, found nothing.");
            line.values[name] = args[++i];
        }
        return line;
    }

    private UsageException UnexpectedPositional(string arg) =>
        new($"{Command}: unexpected argument '{arg}'. Expected only options ({string.Join(", ", specs.Keys.Order(StringComparer.Ordinal))}).");

    public bool Has(string name) => values.ContainsKey(name);

    public bool Flag(string name) => values.ContainsKey(name);

    /// <summary>Throws a usage error for <paramref name="name"/> that names the expected and the found value.</summary>
    public UsageException Invalid(string name, string found, string? expected = null) =>
        new($"{Command}: option {name}: expected {expected ?? specs[name].Expected}, found {found}.");

    public string? Text(string name) => values.TryGetValue(name, out var v) ? v : specs[name].Default;

    public string RequiredText(string name) =>
        Text(name) is { Length: > 0 } v ? v : throw Invalid(name, values.ContainsKey(name) ? "an empty value" : "nothing (the option is required)");

    public double? Double(string name, Func<double, bool> valid)
    {
        var text = Text(name);
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || !valid(v))
            throw Invalid(name, $"'{text}'");
        return v;
    }

    public int? Int(string name, Func<int, bool> valid)
    {
        var text = Text(name);
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || !valid(v))
            throw Invalid(name, $"'{text}'");
        return v;
    }

    public long? Long(string name, Func<long, bool> valid)
    {
        var text = Text(name);
        if (text is null) return null;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || !valid(v))
            throw Invalid(name, $"'{text}'");
        return v;
    }

    /// <summary>
    /// A duration written as numbers with units s, m or h, e.g. <c>90s</c>, <c>20m</c>, <c>1.5h</c>, <c>1h30m</c>; it must be
    /// positive.
    /// </summary>
    public TimeSpan? Duration(string name)
    {
        var text = Text(name);
        if (text is null) return null;
        var parsed = ParseDuration(text);
        if (parsed is not { } d || d <= TimeSpan.Zero) throw Invalid(name, $"'{text}'");
        return d;
    }

    internal static TimeSpan? ParseDuration(string text)
    {
        var match = System.Text.RegularExpressions.Regex.Match(text.Trim(), @"^(?:(\d+(?:\.\d+)?)([smh]))+$",
            System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        if (!match.Success) return null;
        double seconds = 0;
        for (var i = 0; i < match.Groups[1].Captures.Count; i++)
        {
            var value = double.Parse(match.Groups[1].Captures[i].Value, CultureInfo.InvariantCulture);
            seconds += value * char.ToLowerInvariant(match.Groups[2].Captures[i].Value[0]) switch { 'h' => 3600, 'm' => 60, _ => 1 };
        }
        return seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>One of <paramref name="choices"/> (case-insensitive), returned in its canonical spelling.</summary>
    public string? Choice(string name, params string[] choices)
    {
        var text = Text(name);
        if (text is null) return null;
        return choices.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase))
            ?? throw Invalid(name, $"'{text}'", "one of " + string.Join(", ", choices));
    }

    public static string Quote(string value) => $"'{value}'";
}
