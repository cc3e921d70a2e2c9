using System.Globalization;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// One place for the wording of user-facing errors, following ML.NET's ("Schema mismatch for … column 'X': expected …,
/// got …"). Options and schema problems are <see cref="ArgumentOutOfRangeException"/> (ML.NET throws that type for a
/// schema mismatch); problems found while reading rows are <see cref="InvalidOperationException"/>. Every message names
/// the option or column, what was expected and what was found, with numbers in the invariant culture.
/// </summary>
internal static class Errors
{
    public static ArgumentOutOfRangeException Option(string option, string expected, object? found) =>
        new(option, found, $"Option '{option}' must be {expected}; found {Show(found)}.");

    public static ArgumentOutOfRangeException SchemaMismatch(string role, string column, string expected, string found) =>
        new(role + "ColumnName", $"Schema mismatch for {role.ToLowerInvariant()} column '{column}': expected {expected}, got {found}.");

    public static ArgumentOutOfRangeException MissingColumn(string role, string column, IEnumerable<string> available)
    {
        var names = available.Distinct().Select(c => $"'{c}'").ToList();
        return new(role + "ColumnName",
            $"{role} column '{column}' not found: expected a column named '{column}' (option {role}ColumnName), " +
            $"found {(names.Count == 0 ? "no columns" : "columns " + string.Join(", ", names))}.");
    }

    /// <summary>The validation set does not fit the options or the training data; <paramref name="detail"/> says how.</summary>
    public static ArgumentOutOfRangeException ValidationSet(string detail) =>
        new("ValidationSet", $"Option 'ValidationSet': {detail}");

    public static InvalidOperationException Data(string message) => new(message);

    /// <summary>An exception's own message, without the " (Parameter 'x')" suffix .NET appends to argument exceptions.</summary>
    public static string MessageOf(ArgumentException ex)
    {
        var text = ex.Message;
        var cut = text.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return cut < 0 ? text : text[..cut];
    }

    public static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        float f => ShowNumber(f),
        double d => ShowNumber(d),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };

    /// <summary>NaN, +Infinity and -Infinity spelled out (the culture's "∞" is easy to miss in a log).</summary>
    private static string ShowNumber(double value) => value switch
    {
        double.PositiveInfinity => "+Infinity",
        double.NegativeInfinity => "-Infinity",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };
}
