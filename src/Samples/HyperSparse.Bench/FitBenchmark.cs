using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace HyperSparse.Bench;

/// <summary>
/// One `fit` process: the same short schedule (one-shot magnitude pruning: <c>WarmupEpochs</c> dense epochs, the prune,
/// one masked fine-tune epoch, so no ART and no probe) trained either through the public ML.NET estimator
/// (<c>mlContext.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(view)</c>) or through the engine's
/// own loop (<see cref="ArtTrainer"/> with <c>options.ToEngine()</c>) on the same Fashion-MNIST images already in memory.
/// </summary>
/// <param name="EpochSeconds">Every epoch's wall time from the training report, in order (warm-up epochs, then the fine-tune epoch).</param>
/// <param name="WallSeconds">The whole <c>Fit</c> call, or the whole <c>ArtTrainer.Train</c> call.</param>
/// <param name="ReadSeconds">Fit only: from the call to the first progress line, i.e. schema checks, reading the IDataView into
/// one float array and the normalisation statistics (NaN for the raw loop, whose data is already a tensor-ready array).</param>
/// <param name="TrainSeconds">From the start of training (Fit: the first progress line) to the end of the last epoch.</param>
/// <param name="AfterSeconds">Fit: ONNX export and building ML.NET's scoring chain after the last epoch; raw: returning the result.</param>
internal sealed record FitRow(
    string Mode, string Arch, int Images, int Batch, int Threads, int WarmupEpochs, int FineTuneEpochs, double[] EpochSeconds,
    double WallSeconds, double ReadSeconds, double TrainSeconds, double AfterSeconds, double RssMb, int Round, string StartedUtc);

internal static class FitBenchmark
{
    public const string FitMode = "fit", RawMode = "raw";

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    public static int Run(Args args)
    {
        var mode = args.Get("mode", FitMode);
        if (mode is not (FitMode or RawMode)) throw new ArgumentException($"--mode must be {FitMode} or {RawMode}, got '{mode}'.");
        var arch = args.Get("arch", "lenet5");
        var images = args.GetInt("train", 10_000, 100);
        var batch = args.GetInt("batch", 128, 1);
        var warmupEpochs = args.GetInt("epochs", 3, 1);
        var threads = args.GetInt("threads", 2, 1);
        var seed = args.GetInt("seed", 42, 0);
        var round = args.GetInt("round", -1, -1);
        var raw = args.Get("raw");
        args.EnsureAllUsed();

        var dir = FashionMnist.TryLocate() ?? throw new ArgumentException("Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or set HYPERSPARSE_FASHION_MNIST_DIR).");
        var train = FashionMnist.Read(dir, train: true, limit: images);
        var options = new HyperSparseClassificationTrainer.Options
        {
            Architecture = arch switch
            {
                "lenet5" => HyperSparseArchitecture.LeNet5,
                "resnet20" => HyperSparseArchitecture.ResNet20,
                "mlp" => HyperSparseArchitecture.Mlp,
                _ => throw new ArgumentException($"--arch must be lenet5, resnet20 or mlp, got '{arch}'."),
            },
            Method = HyperSparsePruningMethod.OneShotMagnitude,
            WarmupEpochs = warmupEpochs,
            FineTuneEpochs = 1,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = batch,
            LearningRate = 0.05,
            NumberOfThreads = threads,
            Seed = seed,
        };

        var row = mode == FitMode ? RunFit(options, train) : RunRaw(options, train);
        row = row with { Arch = arch == "lenet5" ? "LeNet-5" : arch == "resnet20" ? "ResNet-20" : "MLP", Images = train.Count, Batch = batch,
            Threads = threads, WarmupEpochs = warmupEpochs, FineTuneEpochs = 1, RssMb = StepBenchmark.ProcessMemory().Rss, Round = round };
        if (raw is not null) File.AppendAllText(raw, JsonSerializer.Serialize(row, StepReport.Json) + "\n");
        var warm = Stats.Of(row.EpochSeconds.Take(warmupEpochs).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{row.Arch,-9} {mode,-3} {row.Images:N0} images b{batch} | warm-up epoch median {warm.Median:F2} s (all: {string.Join(" ", row.EpochSeconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}) | " +
            $"wall {row.WallSeconds:F2} s = read {Show(row.ReadSeconds)} + train {row.TrainSeconds:F2} + after {row.AfterSeconds:F2} | RSS {row.RssMb:F0} MB"));
        return 0;
    }

    private static FitRow RunFit(HyperSparseClassificationTrainer.Options options, ImageDataset train)
    {
        var ml = new MLContext(options.Seed);
        var view = ToDataView(ml, train);
        var clock = new Stopwatch();
        double firstLine = double.NaN, lastEpochLine = double.NaN;
        // Typed progress: Started once the data is read, EpochFinished after every epoch (reported on the training thread).
        options.Progress = new Reporter(p =>
        {
            if (p.Kind == HyperSparseProgressKind.Started && double.IsNaN(firstLine)) firstLine = clock.Elapsed.TotalSeconds;
            if (p.Kind == HyperSparseProgressKind.EpochFinished) lastEpochLine = clock.Elapsed.TotalSeconds;
        });
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
        clock.Start();
        var model = trainer.Fit(view);
        clock.Stop();
        var wall = clock.Elapsed.TotalSeconds;
        if (double.IsNaN(firstLine) || double.IsNaN(lastEpochLine))
            throw new InvalidOperationException("Fit reported no start or no epoch through Options.Progress; cannot split its time.");
        return new FitRow(FitMode, "", 0, 0, 0, 0, 0, model.Report.Epochs.Select(e => Math.Round(e.Seconds, 4)).ToArray(),
            wall, firstLine, lastEpochLine - firstLine, wall - lastEpochLine, double.NaN, -1, Machine.UtcNow());
    }

    /// <summary>Calls back synchronously (Progress&lt;T&gt; would post to the thread pool, after the clock moved on).</summary>
    private sealed class Reporter(Action<HyperSparseProgress> report) : IProgress<HyperSparseProgress>
    {
        public void Report(HyperSparseProgress value) => report(value);
    }

    private static FitRow RunRaw(HyperSparseClassificationTrainer.Options options, ImageDataset train)
    {
        // What Fit hands the engine: the same engine options and the same normalisation (Fit detects 0..255 pixels → 1/255).
        var engineOptions = options.ToEngine();
        var normalization = Normalization.FromData(train, 1f / 255);
        var clock = Stopwatch.StartNew();
        using var result = new ArtTrainer(engineOptions).Train(train, null, normalization);
        clock.Stop();
        var epochs = result.Report.Epochs.Select(e => Math.Round(e.Seconds, 4)).ToArray();
        var wall = clock.Elapsed.TotalSeconds;
        // The raw loop has no progress lines; model creation and the prune between epochs count as training here.
        return new FitRow(RawMode, "", 0, 0, 0, 0, 0, epochs, wall, double.NaN, wall, 0, double.NaN, -1, Machine.UtcNow());
    }

    /// <summary>The images as ML.NET rows: Features Vector&lt;Single, C, H, W&gt; (raw 0..255 values) and a key-typed Label.</summary>
    internal static IDataView ToDataView(MLContext ml, ImageDataset data)
    {
        var rows = new List<Row>(data.Count);
        for (var i = 0; i < data.Count; i++)
            rows.Add(new Row { Features = data.Pixels.AsSpan(i * data.ImageSize, data.ImageSize).ToArray(), Label = (uint)data.Labels[i] });
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, data.Channels, data.Height, data.Width);
        // LoadFromEnumerable takes a key column's value as the 0-based class index (it stores index + 1; 0 means missing).
        definition[nameof(Row.Label)].ColumnType = new KeyDataViewType(typeof(uint), data.ClassCount);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    private static string Show(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The markdown section for the rows of a series of `fit` processes: per arch, Fit vs the raw loop.</summary>
    public static string Render(IReadOnlyList<FitRow> rows, double targetRatio)
    {
        var md = new StringBuilder();
        md.AppendLine("## ML.NET `Fit` vs the engine's own loop");
        md.AppendLine();
        var first = rows[0];
        // InvariantGlobalization (csproj): plain interpolation formats numbers invariantly.
        md.AppendLine(
            $"Same schedule both ways: one-shot magnitude pruning with {first.WarmupEpochs} dense warm-up epoch(s), the prune and {first.FineTuneEpochs} masked " +
            $"fine-tune epoch (no ART), batch {first.Batch}, lr 0.05, {first.Threads} thread(s), seed 42, on the first {first.Images:N0} Fashion-MNIST " +
            "training images. **Fit** = `mlContext.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(view)` on an " +
            "in-memory `IDataView` (`LoadFromEnumerable`, `Vector<Single, 1, 28, 28>` + key label); **raw** = `ArtTrainer.Train` with " +
            "`options.ToEngine()` on the same images as a float array. Each is its own process, alternating. \"Epoch s\" is the median " +
            "of the dense warm-up epochs' wall times from the training report (the fine-tune epoch also applies the mask); " +
            "\"read\" is Fit's time from the call to its first progress line (schema checks, IDataView → one float array, " +
            "normalisation statistics); \"after\" is the ONNX export and ML.NET scoring chain after the last epoch.");
        md.AppendLine();
        md.AppendLine("| arch | images | runs | raw epoch s | Fit epoch s | Fit/raw epoch (pooled) | Fit/raw epoch per round, median (min–max) | target Fit ≤ 1.05× raw | Fit read s | Fit after s | raw wall s | Fit wall s | Fit/raw wall |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
        foreach (var g in rows.GroupBy(r => (r.Arch, r.Images)))
        {
            var fit = g.Where(r => r.Mode == FitMode).ToList();
            var rawRows = g.Where(r => r.Mode == RawMode).ToList();
            if (fit.Count == 0 || rawRows.Count == 0) continue;
            double WarmMedian(IEnumerable<FitRow> rs) => Stats.Of(rs.SelectMany(r => r.EpochSeconds.Take(r.WarmupEpochs)).ToList()).Median;
            var fitEpoch = WarmMedian(fit);
            var rawEpoch = WarmMedian(rawRows);
            var pooled = fitEpoch / rawEpoch;
            var perRound = fit.Where(f => f.Round >= 0)
                .Select(f => rawRows.FirstOrDefault(r => r.Round == f.Round) is { } r ? WarmMedian(new[] { f }) / WarmMedian(new[] { r }) : double.NaN)
                .Where(double.IsFinite).ToList();
            var roundStats = Stats.Of(perRound);
            var judged = perRound.Count > 0 ? roundStats.Median : pooled;
            var verdict = judged <= targetRatio ? "**met**" : "**not met**";
            var wallFit = Stats.Of(fit.Select(r => r.WallSeconds).ToList()).Median;
            var wallRaw = Stats.Of(rawRows.Select(r => r.WallSeconds).ToList()).Median;
            var roundText = perRound.Count > 0 ? $"{roundStats.Median:F3}× ({perRound.Min():F3}–{perRound.Max():F3}, {perRound.Count} rounds)" : "–";
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {g.Key.Arch} | {g.Key.Images:N0} | {fit.Count}+{rawRows.Count} | {rawEpoch:F3} | {fitEpoch:F3} | {pooled:F3}× | " +
                $"{roundText} | " +
                $"{verdict} ({judged:F3}×) | {Stats.Of(fit.Select(r => r.ReadSeconds).ToList()).Median:F2} | {Stats.Of(fit.Select(r => r.AfterSeconds).ToList()).Median:F2} | " +
                $"{wallRaw:F2} | {wallFit:F2} | {wallFit / wallRaw:F2}× |"));
        }
        md.AppendLine();
        md.AppendLine("The target is judged on the per-round epoch ratio (Fit and raw run back to back, so load drift cancels better than " +
                      "in pooled medians). The wall-time ratio adds Fit's fixed costs (read + after, independent of the number of epochs) " +
                      "to this very short schedule; over a real schedule of tens of epochs they are amortised.");
        return md.ToString();
    }
}
