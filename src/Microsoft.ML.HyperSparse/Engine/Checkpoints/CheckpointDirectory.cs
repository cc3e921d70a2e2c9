using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Microsoft.ML.HyperSparse.Engine.Checkpoints;

/// <summary>A checkpoint found on disk and read successfully.</summary>
internal sealed record LoadedCheckpoint(int Epoch, string Path, CheckpointData Data) : IDisposable
{
    /// <summary>Disposes the tensors.</summary>
    public void Dispose() => Data.Dispose();
}

/// <summary>
/// The per-epoch checkpoints of one training run in one folder, named <c>epoch-0007.hsckpt</c>.
/// </summary>
internal sealed partial class CheckpointDirectory
{
    /// <summary>File name extension of checkpoint files.</summary>
    internal const string Extension = ".hsckpt";

    /// <summary>Uses <paramref name="folder"/>; it need not exist until the first checkpoint is written.</summary>
    internal CheckpointDirectory(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Folder = Path.GetFullPath(folder);
    }

    /// <summary>The folder holding the checkpoints.</summary>
    internal string Folder { get; }

    /// <summary>The file of the checkpoint taken after epoch <paramref name="epoch"/>.</summary>
    internal string PathForEpoch(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "Expected an epoch ≥ 0.");
        return Path.Combine(Folder, "epoch-" + epoch.ToString("D4", CultureInfo.InvariantCulture) + Extension);
    }

    /// <summary>Creates the folder when needed, then writes the checkpoint of <paramref name="epoch"/> atomically; returns its path.</summary>
    internal string Save(int epoch, string metadataJson, IReadOnlyList<KeyValuePair<string, TorchSharp.torch.Tensor>> tensors)
    {
        Directory.CreateDirectory(Folder);
        var path = PathForEpoch(epoch);
        CheckpointFile.Write(path, metadataJson, tensors);
        return path;
    }

    /// <summary>The existing checkpoint files, highest epoch first (none when the folder does not exist).</summary>
    internal IEnumerable<string> ExistingNewestFirst() => Existing().Select(e => e.Path).ToList();

    private List<(int Epoch, string Path)> Existing()
    {
        if (!Directory.Exists(Folder)) return [];
        var found = new List<(int, string)>();
        foreach (var file in Directory.EnumerateFiles(Folder, "epoch-*" + Extension))
        {
            var match = FileNamePattern().Match(Path.GetFileName(file));
            if (match.Success && int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int epoch))
                found.Add((epoch, file));
        }
        return found.OrderByDescending(f => f.Item1).ToList();
    }

    /// <summary>
    /// Loads the newest checkpoint that reads back intact. Newer files that are corrupt or unreadable are skipped, and
    /// each skip is described in <paramref name="warnings"/> (file and reason). Returns false when none is usable.
    /// </summary>
    internal bool TryLoadLatest([NotNullWhen(true)] out LoadedCheckpoint? loaded, out IReadOnlyList<string> warnings)
    {
        var skipped = new List<string>();
        warnings = skipped;
        foreach (var (epoch, path) in Existing())
        {
            try
            {
                loaded = new LoadedCheckpoint(epoch, path, CheckpointFile.Read(path));
                return true;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                skipped.Add($"Skipped checkpoint '{path}' (epoch {epoch}): {ex.Message}");
            }
        }
        loaded = null;
        return false;
    }

    /// <summary>
    /// Deletes the temporary files a writer killed mid-write leaves behind (<c>.epoch-0007.hsckpt.&lt;guid&gt;.tmp</c>, see
    /// <see cref="CheckpointFile.Write"/>); returns them. Call it only while no other process writes to this folder.
    /// </summary>
    internal IReadOnlyList<string> RemoveLeftoverTemporaryFiles()
    {
        if (!Directory.Exists(Folder)) return [];
        var removed = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Folder, ".epoch-*" + Extension + ".*.tmp"))
        {
            if (!TemporaryNamePattern().IsMatch(Path.GetFileName(file))) continue;
            File.Delete(file);
            removed.Add(file);
        }
        return removed;
    }

    /// <summary>Deletes all but the newest <paramref name="keepLast"/> checkpoints; returns the deleted files.</summary>
    internal IReadOnlyList<string> Prune(int keepLast = 2)
    {
        if (keepLast < 0) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "Expected keepLast ≥ 0.");
        var deleted = new List<string>();
        foreach (var (_, path) in Existing().Skip(keepLast))
        {
            File.Delete(path);
            deleted.Add(path);
        }
        return deleted;
    }

    [GeneratedRegex(@"^epoch-(\d{1,9})\.hsckpt$", RegexOptions.CultureInvariant)]
    private static partial Regex FileNamePattern();

    [GeneratedRegex(@"^\.epoch-\d{1,9}\.hsckpt\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryNamePattern();
}
