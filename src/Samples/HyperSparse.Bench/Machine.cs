using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HyperSparse.Bench;

/// <summary>What a table is stamped with: the machine, its load, the time.</summary>
internal static class Machine
{
    public static string CpuModel() =>
        ReadOr("/proc/cpuinfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
        ?? "unknown CPU";

    public static string MemTotal()
    {
        var line = ReadOr("/proc/meminfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is null) return "unknown RAM";
        var kb = double.Parse(line.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{kb / 1024 / 1024:F1} GiB RAM");
    }

    /// <summary>The 1, 5 and 15 minute load averages.</summary>
    public static string LoadAverage() =>
        ReadOr("/proc/loadavg") is { } s ? string.Join(" ", s.Trim().Split(' ').Take(3)) : "unknown";

    public static string UtcNow() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    /// <summary>nproc, CPU model and RAM, as one line.</summary>
    public static string Describe() => $"{Environment.ProcessorCount} logical CPUs (nproc), {CpuModel()}, {MemTotal()}";

    internal static string? ReadOr(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}

/// <summary>
/// A results file of one benchmark section: one JSON object per line. Rows are replaced by key and the file is rewritten
/// through a temporary file and a rename, so an interrupted process leaves the previous complete file.
/// </summary>
internal static class RowFile
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The rows of <paramref name="path"/> (none when it does not exist), read with <paramref name="json"/> or the default options.</summary>
    public static List<T> Read<T>(string path, JsonSerializerOptions? json = null) =>
        !File.Exists(path)
            ? new List<T>()
            : File.ReadLines(path).Where(l => l.Trim().Length > 0)
                .Select(l => JsonSerializer.Deserialize<T>(l, json ?? Json) ?? throw new InvalidDataException("Empty row in " + path)).ToList();

    /// <summary>
    /// Replaces the rows that <paramref name="sameRow"/> matches with <paramref name="row"/> (appended when none does), written
    /// to a temporary file and moved into place; sorted by <paramref name="order"/>, or in file order when it is null. Rows run
    /// in parallel can finish at the same moment, so the read-modify-write holds <see cref="Lock"/>.
    /// </summary>
    public static void Replace<T>(string path, T row, Func<T, bool> sameRow, Func<T, IComparable>? order, JsonSerializerOptions? json = null)
    {
        json ??= Json;
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        using var gate = Lock(path);
        var rows = Read<T>(path, json).Where(r => !sameRow(r)).Append(row);
        if (order is not null) rows = rows.OrderBy(order);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllLines(temporary, rows.Select(r => JsonSerializer.Serialize(r, json)));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>An exclusive lock on <paramref name="path"/>'s rows: the file PATH.lock, open without sharing, deleted on close.</summary>
    public static FileStream Lock(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose); }
            catch (IOException) when (attempt < 600) { Thread.Sleep(100); }
        }
    }
}
