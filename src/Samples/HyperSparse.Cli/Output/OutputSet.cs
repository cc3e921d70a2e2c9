using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HyperSparse.Cli.Output;

/// <summary>
/// The outputs of one <c>train</c> run are a set: they are written into a private staging folder inside <c>--out</c>
/// (<c>.staging-&lt;pid&gt;-&lt;id&gt;</c>) and moved in together only when every one of them exists, then
/// <c>manifest.json</c> is written last, listing each file with its size and SHA-256. So a folder never mixes two runs:
/// a run that fails, diverges or is cancelled leaves the previous set untouched (and its staging folder is deleted), and
/// while a set is being moved in (milliseconds) there is no manifest, so a half-moved folder is recognisable.
/// </summary>
internal sealed class OutputSet : IDisposable
{
    public const string ManifestName = "manifest.json";
    private const string StagingPrefix = ".staging-";

    private OutputSet(string folder, string staging)
    {
        Folder = folder;
        Staging = staging;
        Files = new OutputFiles(staging);
        Final = new OutputFiles(folder);
    }

    /// <summary>The --out folder.</summary>
    public string Folder { get; }

    /// <summary>Where this run writes its outputs before they are moved in.</summary>
    public string Staging { get; }

    /// <summary>The output paths inside <see cref="Staging"/> (what the run writes to).</summary>
    public OutputFiles Files { get; }

    /// <summary>The output paths inside <see cref="Folder"/> (where they end up).</summary>
    public OutputFiles Final { get; }

    public string Manifest => Path.Combine(Folder, ManifestName);

    /// <summary>
    /// Creates the staging folder. The caller holds the folder's <see cref="OutputLock"/>, so every other staging folder
    /// there belongs to a run that died: they are deleted (returns how many).
    /// </summary>
    public static OutputSet Begin(string folder, out int staleRemoved)
    {
        staleRemoved = 0;
        foreach (var stale in Directory.EnumerateDirectories(folder, StagingPrefix + "*"))
        {
            Directory.Delete(stale, recursive: true);
            staleRemoved++;
        }
        var staging = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture,
            $"{StagingPrefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}"));
        Directory.CreateDirectory(staging);
        return new OutputSet(folder, staging);
    }

    /// <summary>
    /// Moves the staged files in as one set: the old manifest goes first (the folder is "being replaced" from here), then
    /// every output of an earlier run that this run did not write (e.g. an art-gap.png this run has no ART for), then each
    /// staged file is renamed over its target, and the new manifest is written last. Returns the final paths written.
    /// </summary>
    public IReadOnlyList<string> Commit(string commandLine, DateTimeOffset started)
    {
        var staged = Files.All.Where(File.Exists).ToList();
        var entries = new JsonArray();
        foreach (var file in staged)
        {
            using var stream = File.OpenRead(file);
            entries.Add(new JsonObject
            {
                ["file"] = Path.GetFileName(file),
                ["bytes"] = stream.Length,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(stream)),
            });
        }
        if (File.Exists(Manifest)) File.Delete(Manifest);
        var names = staged.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        foreach (var old in Final.All.Where(f => File.Exists(f) && !names.Contains(Path.GetFileName(f))))
            File.Delete(old);
        var written = new List<string>();
        foreach (var file in staged)
        {
            var target = Path.Combine(Folder, Path.GetFileName(file));
            File.Move(file, target, overwrite: true);
            written.Add(target);
        }
        var manifest = new JsonObject
        {
            ["tool"] = "hypersparse train",
            ["commandLine"] = commandLine,
            ["started"] = started.ToString("O", CultureInfo.InvariantCulture),
            ["finished"] = DateTimeOffset.Now.ToString("O", CultureInfo.InvariantCulture),
            ["processId"] = Environment.ProcessId,
            ["files"] = entries,
        };
        AtomicFile.WriteText(Manifest, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return written;
    }

    /// <summary>Deletes the staging folder (after a commit it is empty; after a failure it holds the unfinished outputs).</summary>
    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Staging)) Directory.Delete(Staging, recursive: true);
        }
        catch (IOException ex)
        {
            Debug.WriteLine($"Could not delete '{Staging}': {ex.Message}");
        }
    }
}

/// <summary>
/// An exclusive lock on an output folder, so two runs never write into the same <c>--out</c>. It is an advisory lock held on
/// <c>.hypersparse.lock</c> for the whole run (.NET's <see cref="FileShare.None"/> takes it with flock on Unix); the kernel
/// releases it when the process ends in any way, kill -9 included, so a stale lock file is simply taken over by the next run.
/// The holder's process id and command are in <c>.hypersparse.owner</c> beside it (the locked file itself cannot be read by
/// the process that is refused).
/// </summary>
internal sealed class OutputLock : IDisposable
{
    public const string LockName = ".hypersparse.lock";
    public const string OwnerName = ".hypersparse.owner";

    private readonly FileStream stream;

    private OutputLock(FileStream stream) => this.stream = stream;

    /// <summary>Takes the lock or throws <see cref="UsageException"/> naming the folder and the holder.</summary>
    public static OutputLock Acquire(string command, string option, string folder, string commandLine)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, LockName);
        var owner = Path.Combine(folder, OwnerName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new UsageException($"{command}: option {option}: expected a folder no other run is writing to, found '{folder}' in use by {Holder(owner)}. " +
                "Wait for that run to finish, or choose another folder. (The lock is released when that process ends, however it ends.)");
        }
        // The lock file is never deleted: deleting it while another process opens it would let two processes lock two files.
        AtomicFile.WriteText(owner, string.Create(CultureInfo.InvariantCulture,
            $"{{\"processId\": {Environment.ProcessId}, \"started\": \"{DateTimeOffset.Now:O}\", \"commandLine\": {JsonSerializer.Serialize(commandLine)}}}\n"));
        return new OutputLock(stream);
    }

    private static string Holder(string owner)
    {
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(owner));
            var pid = json?["processId"]?.GetValue<int>();
            var started = json?["started"]?.GetValue<string>();
            var line = json?["commandLine"]?.GetValue<string>();
            return string.Create(CultureInfo.InvariantCulture, $"process {pid} (started {started}: {line})");
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidOperationException or UnauthorizedAccessException or FormatException)
        {
            return "another process";
        }
    }

    public void Dispose() => stream.Dispose();
}
