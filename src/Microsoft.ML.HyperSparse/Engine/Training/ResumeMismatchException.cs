namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>A checkpoint written by a run with other options or data: both fingerprints (JSON) as data.</summary>
internal sealed class ResumeMismatchException(string path, string saved, string current)
    : InvalidOperationException($"Checkpoint '{path}' was written by a run with other options or data; resume needs the same options " +
                                "(except threads and paths).")
{
    public string CheckpointPath { get; } = path;
    public string SavedFingerprint { get; } = saved;
    public string CurrentFingerprint { get; } = current;
}
