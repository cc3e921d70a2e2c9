namespace Microsoft.ML.HyperSparse;

/// <summary>One place for the wording of user-facing errors, following ML.NET's ("Schema mismatch for … column 'X': expected …, got …").</summary>
internal static class Errors
{
    public static ArgumentOutOfRangeException Option(string option, string expected, object? found) =>
        new(option, found, $"Option '{option}' must be {expected}; found {Show(found)}.");

    public static ArgumentOutOfRangeException SchemaMismatch(string role, string column, string expected, string found) =>
        new(role + "ColumnName", $"Schema mismatch for {role.ToLowerInvariant()} column '{column}': expected {expected}, got {found}.");

    public static ArgumentOutOfRangeException MissingColumn(string role, string column, IEnumerable<string> available) =>
        new(role + "ColumnName", $"{role} column '{column}' not found. Available columns: {string.Join(", ", available.Select(c => $"'{c}'"))}.");

    public static InvalidOperationException Data(string message) => new(message);

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => value.ToString() ?? "null",
    };
}
