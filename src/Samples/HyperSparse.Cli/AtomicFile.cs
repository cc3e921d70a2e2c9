using HyperSparse.Imaging;

namespace HyperSparse.Cli;

/// <summary>A write target that is not a regular file (a device, FIFO, socket or folder): renaming over it would replace it.</summary>
internal sealed class NotARegularFileException(string path, string found)
    : IOException($"Cannot write '{path}': expected a regular file or a new file name, found {found}. Outputs are written to a " +
                  "temporary file and renamed over the target, which would replace it; give a file name instead.")
{
    public string Path { get; } = path;
}

/// <summary>
/// Writes files through a temporary file in the same folder, then renames, so a reader never sees a partial file.
/// Only regular files are replaced: a symbolic link is written through (its final target, a regular file or a new name in an
/// existing folder, is replaced; the link stays a link), and a device, FIFO, socket or folder is refused with
/// <see cref="NotARegularFileException"/> instead of being replaced by a regular file.
/// </summary>
internal static partial class AtomicFile
{
    /// <summary>The file a write to <paramref name="path"/> replaces: the path itself, or a link's final target.</summary>
    public static string Target(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var kind = FileKind.Of(full, followLinks: false);
        if (kind == FileKind.Kind.SymbolicLink)
        {
            var final = FileKind.Of(full, followLinks: true);
            if (final != FileKind.Kind.Regular)
                throw new NotARegularFileException(path, "a symbolic link to " + (final == FileKind.Kind.Missing ? "nothing" : FileKind.Describe(final)));
            return FileKind.RealPath(full);
        }
        if (kind is FileKind.Kind.Directory or FileKind.Kind.Special)
            throw new NotARegularFileException(path, FileKind.Describe(kind));
        return full;
    }

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
        var full = Target(path);
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
