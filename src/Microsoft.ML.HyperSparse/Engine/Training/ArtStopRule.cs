namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// ART's stopping rule, as the reference codes it. After each ART epoch the pruned copy's train accuracy is pushed into
/// a FIFO window of 2m+1 epochs. When the window mean exceeds the stored best's own accuracy, the best becomes the
/// window's middle element (index min(count−1, m): the only one, then the newest, then the centre) and remembers the
/// window mean. ART ends when that remembered mean exceeds the dense model's running train accuracy of the epoch just
/// trained; training continues from the best element's pruned copy.
/// </summary>
/// <typeparam name="T">The pruned snapshot kept with each epoch.</typeparam>
internal sealed class ArtStopRule<T>
{
    private readonly List<Entry> window = new();

    public ArtStopRule(int windowHalfSize)
    {
        if (windowHalfSize < 0) throw new ArgumentOutOfRangeException(nameof(windowHalfSize), windowHalfSize, "The stop window half-size m must be ≥ 0.");
        WindowHalfSize = windowHalfSize;
    }

    /// <summary>One ART epoch's probe: its ART epoch index, the pruned copy's train accuracy (%) and the snapshot.</summary>
    public sealed record Entry(int ArtEpoch, double PrunedAccuracy, T Snapshot);

    public int WindowHalfSize { get; }
    public int WindowSize => 2 * WindowHalfSize + 1;
    public IReadOnlyList<Entry> Window => window;

    /// <summary>The selected epoch (null before the first improvement) and the window mean recorded with it.</summary>
    public Entry? Best { get; private set; }
    public double BestWindowMean { get; private set; }

    /// <summary>Restores state saved from <see cref="Window"/>, <see cref="Best"/> and <see cref="BestWindowMean"/>.</summary>
    public void Restore(IEnumerable<Entry> entries, Entry? best, double bestWindowMean)
    {
        window.Clear();
        window.AddRange(entries);
        Best = best;
        BestWindowMean = bestWindowMean;
    }

    /// <summary>Pushes the epoch's probe and says whether ART stops. Evicted entries are returned for disposal.</summary>
    public (bool Stop, IReadOnlyList<Entry> Evicted) Push(Entry entry, double denseTrainAccuracy)
    {
        var evicted = new List<Entry>();
        window.Add(entry);
        while (window.Count > WindowSize)
        {
            evicted.Add(window[0]);
            window.RemoveAt(0);
        }
        var mean = window.Average(e => e.PrunedAccuracy);
        // The reference compares the window mean with the stored best's single accuracy, not with its window mean.
        if (mean > (Best?.PrunedAccuracy ?? 0))
        {
            Best = window[Math.Min(window.Count - 1, WindowSize / 2)];
            BestWindowMean = mean;
        }
        return (Best is not null && BestWindowMean > denseTrainAccuracy, evicted);
    }

    /// <summary>True when <paramref name="entry"/> is still referenced (in the window or as the best).</summary>
    public bool Holds(Entry entry) => ReferenceEquals(Best, entry) || window.Any(e => ReferenceEquals(e, entry));
}
