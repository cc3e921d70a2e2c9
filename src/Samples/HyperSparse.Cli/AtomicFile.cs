namespace HyperSparse.Cli;

/// <summary>Writes files through a temporary file in the same folder, then renames, so a reader never sees a partial file.</summary>
internal static partial class AtomicFile
{
    /// <summary>
    /// Deletes the temporary files that a process killed inside <see cref="Write"/> left next to <paramref name="paths"/>
    /// (<c>.model.zip.1a2b3c4d.tmp</c>); returns how many. The files themselves are never partial.
    /// </summary>
    public static int RemoveLeftovers(IEnumerable<string> paths)
    {
        var removed = 0;
        foreach (var group in paths.Select(Path.GetFullPath).GroupBy(p => Path.GetDirectoryName(p)!))
        {
            if (!Directory.Exists(group.Key)) continue;
            var names = group.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(group.Key, ".*.tmp"))
            {
                var match = TemporaryName().Match(Path.GetFileName(file));
                if (!match.Success || !names.Contains(match.Groups[1].Value)) continue;
                File.Delete(file);
                removed++;
            }
        }
        return removed;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\.(.+)\.[0-9a-f]{8}\.tmp$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex TemporaryName();

    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, s =>
        {
            using var writer = new StreamWriter(s, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
            writer.Write(text);
        });
}
