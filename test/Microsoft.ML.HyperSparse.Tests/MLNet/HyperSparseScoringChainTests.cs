using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>The ML.NET scoring chain over every weight encoding and with non-default column names (tiny synthetic data).</summary>
[TestClass]
public sealed class HyperSparseScoringChainTests
{
    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
        public float Logits { get; set; }
    }

    private static IDataView Data(MLContext ml, int count = 48)
    {
        var rows = Enumerable.Range(0, count).Select(i => new Row
        {
            // Class k brightens quadrant k: learnable in a few epochs.
            Features = Enumerable.Range(0, 16).Select(p => (p / 4 == i % 3 ? 0.8f : 0.1f) + (i * 7 + p) % 5 / 50f).ToArray(),
            Label = (uint)(i % 3),
            Logits = i,
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 4, 4);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 3);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    private static HyperSparseClassificationTrainer.Options Options(HyperSparseWeightEncoding encoding) => new()
    {
        Architecture = HyperSparseArchitecture.Mlp,
        PruningRate = 0.9,
        WarmupEpochs = 2,
        MaxArtEpochs = 2,
        FineTuneEpochs = 2,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = 16,
        CropPadding = 0,
        HorizontalFlip = false,
        WeightEncoding = encoding,
        NumberOfThreads = 1,
    };

    [TestMethod]
    public void Fit_EveryWeightEncoding_SameScoresThroughMLNet()
    {
        float[][]? reference = null;
        foreach (var encoding in Enum.GetValues<HyperSparseWeightEncoding>())
        {
            var ml = new MLContext(seed: 1);
            var data = Data(ml);
            var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(Options(encoding)).Fit(data);
            var scores = model.Transform(data).GetColumn<float[]>("Score").ToArray();
            Assert.AreEqual(48, scores.Length);
            if (reference is null) reference = scores;
            else for (var i = 0; i < scores.Length; i++) CollectionAssert.AreEqual(reference[i], scores[i], $"{encoding}, row {i}");
            Assert.IsTrue(model.Report.Layers.Any(l => l.Encoding == encoding.ToString()), $"some layer uses {encoding}: {string.Join(", ", model.Report.Layers.Select(l => l.Encoding))}");
        }
    }

    [TestMethod]
    public void Fit_CustomColumnNamesAndAnInputColumnNamedLogits_KeepsTheInputColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var options = Options(HyperSparseWeightEncoding.Compact);
        options.ScoreColumnName = "Probabilities";
        options.PredictedLabelColumnName = "Guess";
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
        var model = trainer.Fit(data);
        var scored = model.Transform(data);

        Assert.AreEqual(data.Schema["Label"].Type, scored.Schema["Guess"].Type, "Guess has the label's key type");
        Assert.AreEqual(3, ((VectorDataViewType)scored.Schema["Probabilities"].Type).Size);
        Assert.IsNull(scored.Schema.GetColumnOrNull("Score"));
        Assert.IsNull(scored.Schema.GetColumnOrNull("PredictedLabel"));
        // The user's own Logits column survives: the chain's logits column gets another name and is dropped.
        CollectionAssert.AreEqual(Enumerable.Range(0, 48).Select(i => (float)i).ToArray(), scored.GetColumn<float>("Logits").ToArray());
        var metrics = ml.MulticlassClassification.Evaluate(scored, scoreColumnName: "Probabilities", predictedLabelColumnName: "Guess");
        Assert.IsTrue(metrics.MicroAccuracy > 0.5, $"accuracy {metrics.MicroAccuracy:F2} on an easy 3-class task");
        // The user's file still names its outputs after the options, not after the chain's internal logits column.
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model.OnnxModel.ToArray());
        CollectionAssert.AreEquivalent(new[] { "Probabilities", "Logits" }, session.OutputMetadata.Keys.ToArray());
    }

    [TestMethod]
    public void Fit_CancellationTokenCancelledDuringWarmup_StopsBeforeTheNextEpoch()
    {
        var ml = new MLContext(seed: 1);
        using var source = new CancellationTokenSource();
        var epochs = 0;
        ml.Log += (_, e) =>
        {
            if (!e.Message.Contains("HyperSparse: Warmup epoch", StringComparison.Ordinal)) return;
            Interlocked.Increment(ref epochs);
            source.Cancel();
        };
        var options = Options(HyperSparseWeightEncoding.Compact);
        options.WarmupEpochs = 200;
        options.CancellationToken = source.Token;
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
        Assert.Throws<OperationCanceledException>(() => trainer.Fit(Data(ml)));
        // Cancelled between epochs (the line is logged when an epoch ends): the next epoch must not run. Cancelling inside an
        // epoch is ArtTrainerPhaseRuleTests.ArtTrainer_Train_CancelledInsideAnArtEpoch_FinishesTheBatchInFlightAndStartsNoOther.
        Assert.AreEqual(1, epochs, "no epoch ran after the token was cancelled");
    }

    [TestMethod]
    public void Fit_MLContextCancelExecutionDuringWarmup_StopsTrainingWithOperationCanceled()
    {
        // MLContext.CancelExecution is internal to ML.NET (its own tools call it); a host with that access cancels like this.
        // The host's flag is polled every 0.1 s (ML.NET offers no callback for it); training then stops within one batch.
        var ml = new MLContext(seed: 1);
        var cancelExecution = typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!;
        var epochs = 0;
        ml.Log += (_, e) =>
        {
            if (!e.Message.Contains("HyperSparse: Warmup epoch", StringComparison.Ordinal)) return;
            if (Interlocked.Increment(ref epochs) == 1) cancelExecution.Invoke(ml, null);
        };
        var options = Options(HyperSparseWeightEncoding.Compact);
        options.WarmupEpochs = 5_000;   // about a minute if cancellation were ignored
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
        // What matters is that the schedule was cut short, counted in epochs (not seconds: the box is shared). Fit throws
        // only because the host's flag was seen; ignoring it would run all 5,000 epochs and return a model.
        Assert.Throws<OperationCanceledException>(() => trainer.Fit(Data(ml)));
        Assert.IsLessThan(5_000, epochs, $"stopped after {epochs} of 5,000 warm-up epochs");
        Assert.IsGreaterThanOrEqualTo(1, epochs, "cancelled from the first epoch's log line, so that epoch ended");
    }
}
