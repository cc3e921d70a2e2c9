using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// <see cref="HyperSparseClassificationTrainer.Options.Progress"/>: the typed reports say what the training report says,
/// in order, and a resume of another run's checkpoint is a <see cref="HyperSparseResumeMismatchException"/> whose
/// differences are data.
/// </summary>
[TestClass]
public sealed class HyperSparseProgressTests
{
    public TestContext TestContext { get; set; } = null!;

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    /// <summary>40 images of 1×4×4, 2 classes told apart by the brightness of the top row.</summary>
    private static IDataView Data(MLContext ml, int count = 40)
    {
        var rows = Enumerable.Range(0, count).Select(i => new Row
        {
            Features = Enumerable.Range(0, 16).Select(p => (p < 4 && i % 2 == 0 ? 0.9f : 0.1f) + (i * 3 + p) % 7 / 70f).ToArray(),
            Label = (uint)(i % 2),
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 4, 4);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 2);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and race the assertions).</summary>
    private sealed class Recorder : IProgress<HyperSparseProgress>
    {
        public List<HyperSparseProgress> Reports { get; } = new();
        public void Report(HyperSparseProgress value) { lock (Reports) Reports.Add(value); }
    }

    private static HyperSparseClassificationTrainer.Options Tiny(IProgress<HyperSparseProgress>? progress = null, string? checkpoints = null, int warmup = 2) => new()
    {
        Architecture = HyperSparseArchitecture.Mlp,
        PruningRate = 0.9,
        WarmupEpochs = warmup,
        MaxArtEpochs = 2,
        FineTuneEpochs = 2,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = 8,
        CropPadding = 0,
        HorizontalFlip = false,
        NumberOfThreads = 1,
        Progress = progress,
        CheckpointFolder = checkpoints,
    };

    [TestMethod]
    public void Fit_Progress_ReportsStartEveryEpochAndTheEndOfArtAsTheReportHasThem()
    {
        var ml = new MLContext(seed: 1);
        var recorder = new Recorder();
        var report = ml.MulticlassClassification.Trainers.HyperSparseClassification(Tiny(recorder)).Fit(Data(ml)).Report;
        var reports = recorder.Reports;

        Assert.AreEqual(HyperSparseProgressKind.Started, reports[0].Kind);
        Assert.AreEqual(0, reports[0].EpochsDone);
        Assert.IsNull(reports[0].ResumedFrom);
        var epochs = reports.Where(r => r.Kind == HyperSparseProgressKind.EpochFinished).ToList();
        Assert.HasCount(report.Epochs.Count, epochs, "one report per epoch");
        for (var i = 0; i < epochs.Count; i++)
        {
            var (a, b) = (epochs[i].Epoch!, report.Epochs[i]);
            Assert.AreEqual(b, a, $"epoch {i}: the same figures as the training report");
            Assert.AreEqual(b.Phase, epochs[i].Phase);
            Assert.AreEqual(i + 1, epochs[i].EpochsDone);
        }
        var artEnded = reports.Single(r => r.Kind == HyperSparseProgressKind.ArtEnded);
        Assert.AreEqual(report.ArtStopReason, artEnded.ArtStopReason);
        Assert.AreEqual(report.ArtEpochs, artEnded.ArtEpochsDone);
        Assert.AreEqual(report.ArtEpochs, artEnded.MaxArtEpochs, "once ART has ended, its length is what it ran");
        var last = epochs[^1];
        Assert.AreEqual((2, report.ArtEpochs, 2), (last.WarmupEpochsDone, last.ArtEpochsDone, last.FineTuneEpochsDone));
        Assert.IsTrue(reports.Zip(reports.Skip(1)).All(p => p.Second.TrainingSeconds >= p.First.TrainingSeconds), "training time only grows");
    }

    [TestMethod]
    public void Fit_ResumeWithOtherOptions_ThrowsResumeMismatchListingEachDifferenceAsData()
    {
        var folder = Path.Combine(Path.GetTempPath(), "hs-progress-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var ml = new MLContext(seed: 1);
            ml.MulticlassClassification.Trainers.HyperSparseClassification(Tiny(checkpoints: folder)).Fit(Data(ml));
            var other = Tiny(checkpoints: folder, warmup: 3);
            other.Resume = true;
            var ex = Assert.ThrowsExactly<HyperSparseResumeMismatchException>(
                () => ml.MulticlassClassification.Trainers.HyperSparseClassification(other).Fit(Data(ml, count: 36)));
            StringAssert.EndsWith(ex.CheckpointPath, ".hsckpt");
            var differences = string.Join(", ", ex.Differences);
            CollectionAssert.Contains(ex.Differences.ToArray(), new HyperSparseSettingDifference("WarmupEpochs", "2", "3"), differences);
            CollectionAssert.Contains(ex.Differences.ToArray(), new HyperSparseSettingDifference("training images", "40", "36"), differences);
            // Fewer images, other statistics: the per-channel mean and std are part of what a resume must match.
            CollectionAssert.AreEquivalent(new[] { "WarmupEpochs", "training images", "data statistics (Mean)", "data statistics (Std)" },
                ex.Differences.Select(d => d.Setting).ToArray(), differences);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
