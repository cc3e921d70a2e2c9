using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;

namespace HyperSparse.Bench;

/// <summary>
/// Everything that decides an `accuracy` row; a cached row is reused only when its config is equal.
/// Method: "hs" (ART with the HyperSparse loss), "l1" (ART with L1), "magnitude" (dense training, one-shot magnitude prune,
/// masked fine-tune) or "dense" (no pruning). <see cref="DenseEpochs"/> is the one-shot methods' dense phase: for
/// "magnitude" the HS-ART row's warm-up + ART epochs at the same κ and seed (so both train the same number of epochs), for
/// "dense" warm-up + the ART cap. <see cref="Threads"/> is recorded but is not part of a row's identity: the thread count
/// changes how fast a row trains, not what it trains.
/// </summary>
internal sealed record AccuracyConfig(
    string Arch, double Kappa, string Method, int Seed, int TrainImages, int TestImages, int Batch, double LearningRate,
    int WarmupEpochs, int MaxArtEpochs, int FineTuneEpochs, int[] LearningRateSteps, double LambdaInit, double LambdaGrowth,
    int CropPadding, int Threads, int DenseEpochs)
{
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"{Arch.ToLowerInvariant().Replace("-", "")}-k{Kappa}-{Method}-s{Seed}-n{TrainImages}-b{Batch}-w{WarmupEpochs}-c{MaxArtEpochs}-f{FineTuneEpochs}-d{DenseEpochs}");

    public bool SameAs(AccuracyConfig other) =>
        this with { LearningRateSteps = [], Threads = 0 } == other with { LearningRateSteps = [], Threads = 0 }
        && LearningRateSteps.SequenceEqual(other.LearningRateSteps);

    /// <summary>Identity of a row in the results file (the schedule may change; then the row is redone).</summary>
    public bool SameSlot(AccuracyConfig other) =>
        Arch == other.Arch && Method == other.Method && Seed == other.Seed && Math.Abs(Kappa - other.Kappa) < 1e-12;
}

/// <summary>One `accuracy` row: what the run did and its test accuracy on the whole t10k split.</summary>
/// <param name="Jobs">Rows build/bench.sh ran at the same time as this one (ACC_JOBS; 1 = the row had the machine to itself).</param>
/// <param name="Host">The machine the row ran on (CPUs, CPU model, memory); null in rows written before it was recorded.</param>
internal sealed record AccuracyRow(
    AccuracyConfig Config, string StartedUtc, string FinishedUtc, string LoadStart, string LoadEnd, string Revision,
    int WarmupEpochs, int ArtEpochs, int FineTuneEpochs, string ArtStopReason, int? SelectedArtEpoch, double FinalLambda,
    double TestAccuracy, long PrunableWeights, long KeptWeights, double AchievedSparsity, double TrainingSeconds, string[] CollapsedLayers, int Jobs = 1,
    string? Host = null)
{
    public int TotalEpochs => WarmupEpochs + ArtEpochs + FineTuneEpochs;
    public bool StopRuleFired => ArtStopReason == nameof(Microsoft.ML.HyperSparse.Engine.Training.ArtStopReason.StopRuleFired);
}

/// <summary>
/// `accuracy`: one row of the accuracy-vs-sparsity table (issue #5 a). Trains one (architecture, κ, method, seed) through the
/// engine on Fashion-MNIST with a fixed, documented schedule, scores the t10k split with the final model and caches the row.
/// Resumable: a finished row is skipped, an interrupted one continues from its per-epoch checkpoints.
/// </summary>
internal static class AccuracyBenchmark
{
    public static readonly string[] Methods = ["hs", "l1", "magnitude", "dense"];

    /// <summary>The schedules of the table (stated beside it): short enough for this 2-core box, long enough for ART's stop rule.</summary>
    public static AccuracyConfig Default(Architecture arch, double kappa, string method, int seed, bool quick) => (arch, quick) switch
    {
        // Full official split. ≈13 ms per b256 step: 235 steps ≈ 3 s per dense epoch, ≈ 6 s per ART epoch (probe pass).
        (Architecture.LeNet5, false) => new AccuracyConfig("LeNet-5", kappa, method, seed, 60_000, 10_000, 256, 0.05,
            WarmupEpochs: 8, MaxArtEpochs: 20, FineTuneEpochs: 10, LearningRateSteps: [6], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Threads: 2, DenseEpochs: 0),
        // 10,000 training images (the full split's 70 s epochs do not fit 20 rows on this box), the full t10k.
        (Architecture.ResNet20, false) => new AccuracyConfig("ResNet-20", kappa, method, seed, 10_000, 10_000, 128, 0.05,
            WarmupEpochs: 6, MaxArtEpochs: 20, FineTuneEpochs: 8, LearningRateSteps: [5], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Threads: 2, DenseEpochs: 0),
        (Architecture.LeNet5, true) => new AccuracyConfig("LeNet-5", kappa, method, seed, 2_000, 1_000, 128, 0.05,
            WarmupEpochs: 1, MaxArtEpochs: 2, FineTuneEpochs: 1, LearningRateSteps: [], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Threads: 2, DenseEpochs: 0),
        (Architecture.ResNet20, true) => new AccuracyConfig("ResNet-20", kappa, method, seed, 256, 500, 64, 0.05,
            WarmupEpochs: 1, MaxArtEpochs: 1, FineTuneEpochs: 1, LearningRateSteps: [], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Threads: 2, DenseEpochs: 0),
        _ => throw new ArgumentException($"the accuracy table trains lenet5 and resnet20, not {arch}."),
    };

    public static int Run(Args args)
    {
        var arch = Architectures.Parse(args.Get("arch") ?? throw new ArgumentException("accuracy needs --arch (lenet5, resnet20)."));
        var method = args.Get("method", "hs");
        if (!Methods.Contains(method)) throw new ArgumentException($"--method must be hs, l1, magnitude or dense, got '{method}'.");
        var kappa = method == "dense" ? 0 : args.GetDouble("kappa", double.NaN);
        if (method != "dense" && kappa is not (> 0 and < 1)) throw new ArgumentException($"--kappa must be in (0, 1), got {kappa}.");
        var seed = args.GetInt("seed", 1, 0);
        var quick = args.GetOnOff("quick", false);
        var results = args.Get("results") ?? throw new ArgumentException("accuracy needs --results FILE (the row cache).");
        var work = args.Get("work", "artifacts/bench-accuracy");
        var revision = args.Get("revision", "");
        var baseline = Default(arch, kappa, method, seed, quick);
        var config = baseline with
        {
            TrainImages = args.GetInt("train", baseline.TrainImages, 100),
            TestImages = args.GetInt("test", baseline.TestImages, 10),
            Threads = args.GetInt("threads", baseline.Threads, 1),
        };
        var jobs = args.GetInt("jobs", 1, 1);
        args.EnsureAllUsed();

        var rows = RowFile.Read<AccuracyRow>(results);
        config = config with { DenseEpochs = DenseEpochs(config, rows) };
        if (rows.FirstOrDefault(r => r.Config.SameAs(config)) is { } cached)
        {
            Console.WriteLine("accuracy: cached: " + Describe(cached));
            return 0;
        }

        var wall = Stopwatch.StartNew();
        var started = Machine.UtcNow();
        var loadStart = Machine.LoadAverage();
        var (train, test) = BenchModels.Data(config.TrainImages, config.TestImages);
        var normalization = Normalization.FromData(train, 1f / 255);
        var checkpoints = Path.Combine(work, config.Key, "checkpoints");
        var resume = Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "*.hsckpt").Any();
        var oneShot = method is "magnitude" or "dense";
        var options = BenchModels.EngineOptions(arch, method == "dense" ? BudgetBenchmark.DenseKappa : kappa, config.Batch, config.LearningRate,
            oneShot ? config.DenseEpochs : config.WarmupEpochs, config.MaxArtEpochs, config.FineTuneEpochs, config.LearningRateSteps,
            config.LambdaInit, config.LambdaGrowth, config.CropPadding, config.Seed, config.Threads) with
        {
            Method = oneShot ? PruningMethod.OneShotMagnitude : PruningMethod.Art,
            Regularizer = method == "l1" ? RegularizerKind.L1 : RegularizerKind.HyperSparse,
            CheckpointDirectory = checkpoints,
            Resume = resume,
        };
        var schedule = oneShot
            ? Inv($"{config.DenseEpochs} dense + {config.FineTuneEpochs} fine-tune epochs")
            : Inv($"{config.WarmupEpochs} warm-up + ≤{config.MaxArtEpochs} ART + {config.FineTuneEpochs} fine-tune epochs");
        Console.WriteLine(Inv($"accuracy: {Title(config)}: {train.Count:N0} train / {test.Count:N0} test images, {schedule}{(resume ? ", resuming from " + checkpoints : "")}"));
        using var result = new ArtTrainer(options, BenchModels.PrintEpoch, line => Console.WriteLine("  " + line)).Train(train, null, normalization);
        var report = result.Report;
        var accuracy = BudgetBenchmark.TestAccuracy(result.Model, test, normalization);
        var art = report.Epochs.Where(e => e.Phase == TrainingPhase.Art).ToList();
        var row = new AccuracyRow(
            config, started, Machine.UtcNow(), loadStart, Machine.LoadAverage(), revision,
            report.WarmupEpochs, report.ArtEpochs, report.FineTuneEpochs, oneShot ? "None" : report.ArtStopReason.ToString(), report.SelectedArtEpoch,
            art.Count > 0 ? art[^1].Lambda : 0, accuracy, report.PrunableWeights, report.KeptWeights, report.AchievedSparsity,
            report.TotalSeconds, report.CollapsedLayers.Select(l => l.Name).ToArray(), jobs, Machine.Describe());
        RowFile.Replace(results, row, r => r.Config.SameSlot(config), r => Order(r.Config));
        if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        Console.WriteLine($"accuracy: {Describe(row)} (wall {BudgetBenchmark.Duration(wall.Elapsed.TotalSeconds)})");
        return 0;
    }

    /// <summary>
    /// The dense phase of the one-shot rows: "magnitude" trains as many epochs as the HS-ART row of the same κ and seed did
    /// before its prune (that row must exist: the script runs HS-ART first); "dense" trains warm-up + the ART cap.
    /// </summary>
    private static int DenseEpochs(AccuracyConfig config, List<AccuracyRow> rows)
    {
        if (config.Method == "dense") return config.WarmupEpochs + config.MaxArtEpochs;
        if (config.Method != "magnitude") return 0;
        var hs = rows.FirstOrDefault(r => r.Config.SameAs(config with { Method = "hs", DenseEpochs = 0 }))
                 ?? throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                     $"the magnitude row (κ {config.Kappa}, seed {config.Seed}) trains as many epochs as the HS-ART row of the same κ and seed, which is not in the results yet: run --method hs first."));
        return hs.WarmupEpochs + hs.ArtEpochs;
    }

    private static IComparable Order(AccuracyConfig c) =>
        string.Create(CultureInfo.InvariantCulture, $"{c.Arch}|{c.Kappa:0.0000}|{Array.IndexOf(Methods, c.Method)}|{c.Seed:D4}");

    private static string Title(AccuracyConfig c) =>
        Inv($"{c.Arch} {(c.Method == "dense" ? "" : Inv($"κ {c.Kappa} "))}{BudgetBenchmark.MethodName(c.Method)} seed {c.Seed}");

    internal static string Describe(AccuracyRow r)
    {
        var end = r.Config.Method is "hs" or "l1" ? (r.StopRuleFired ? " (stop rule fired)" : " (cap forced the prune)") : "";
        return Inv($"{Title(r.Config)}: {r.WarmupEpochs} + {r.ArtEpochs} + {r.FineTuneEpochs} epochs{end}, sparsity {r.AchievedSparsity:P2}, test accuracy {r.TestAccuracy:F2} %, training {BudgetBenchmark.Duration(r.TrainingSeconds)}");
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);

    // ------------------------------------------------------------------------------------------------- report

    /// <summary>The "Accuracy vs sparsity" section of docs/benchmarks.md from the cached rows.</summary>
    public static void Render(StringBuilder md, List<AccuracyRow> rows, string command)
    {
        if (rows.Count == 0) return;
        void L(string s) => md.AppendLine(s);
        L("## Accuracy vs sparsity");
        L("");
        var parallel = rows.GroupBy(r => (r.Config.Threads, r.Jobs)).OrderByDescending(g => g.Key.Threads)
            .Select(g => Inv($"{g.Key.Threads} × {g.Key.Jobs} ({g.Count()} row{(g.Count() == 1 ? "" : "s")})"));
        // The machine each row ran on (rows are run over several sessions, possibly on other machines than the render's).
        var hosts = rows.GroupBy(r => r.Host)
            .Select(g => Inv($"{g.Key ?? "not recorded"} ({g.Count()} row{(g.Count() == 1 ? "" : "s")}{(g.Key is null ? ", run before rows recorded it" : "")})"));
        L($"- Machine: {string.Join("; ", hosts)}; libtorch threads × rows run at once: {string.Join(", ", parallel)}");
        var loads = rows.SelectMany(r => new[] { r.LoadStart, r.LoadEnd }).Select(l => double.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture)).ToList();
        L(string.Create(CultureInfo.InvariantCulture, $"- Load average (1 min) at the start and end of the rows: {loads.Min():F2} … {loads.Max():F2} (the cores are shared with other work; accuracies do not depend on it, times do)"));
        L($"- Date (UTC): {rows.Min(r => r.StartedUtc)} … {rows.Max(r => r.FinishedUtc)}");
        L($"- Command: `{command}`; source revision {string.Join(", ", rows.Select(r => r.Revision).Distinct())}");
        L("");
        L("Every row trains through the engine on Fashion-MNIST (the official split: the first *n* training images; the t10k test images, all 10,000 unless the schedule says otherwise) and scores the final model on t10k; nothing is selected on the test split. *HS-ART* and *L1-ART*: dense warm-up, ART with that regulariser until its stop rule fires or the cap, prune to κ (the best pruned copy), masked fine-tune with a fresh SGD. *Magnitude*: dense training for as many epochs as the HS-ART run of the same κ and seed trained before its prune, one-shot magnitude prune, the same masked fine-tune — so both use the same total epochs. *Dense*: warm-up + ART cap dense epochs, then the fine-tune schedule without pruning (one weight removed by the strict |w| > τ rule). SGD momentum 0.9, weight decay 1e-4, random crop with 2-pixel padding, no flips. *Training time* is the epochs' wall time on the shared box, other benchmarks running beside it and any pause of the process included: compare accuracies here, speed in *Training speed*.");
        L("");
        foreach (var arch in rows.GroupBy(r => r.Config.Arch))
        {
            var c = arch.First().Config;
            L($"### {arch.Key}");
            L("");
            L(string.Create(CultureInfo.InvariantCulture,
                $"Schedule: {c.TrainImages:N0} training / {c.TestImages:N0} test images, batch {c.Batch}, LR {c.LearningRate} (×0.1 at fine-tune epoch {(c.LearningRateSteps.Length == 0 ? "—" : string.Join(", ", c.LearningRateSteps))}), {c.WarmupEpochs} warm-up + ≤ {c.MaxArtEpochs} ART + {c.FineTuneEpochs} fine-tune epochs, λ_init {c.LambdaInit}, η {c.LambdaGrowth}."));
            L("");
            L("| κ | method | seeds | test acc % (mean ± std) | per seed | vs dense pp | ART epochs to stop (per seed) | total epochs | training time |");
            L("|---:|---|---:|---:|---|---:|---|---:|---:|");
            var dense = arch.Where(r => r.Config.Method == "dense").ToList();
            double? denseMean = dense.Count > 0 ? dense.Average(r => r.TestAccuracy) : null;
            if (dense.Count > 0)
                L($"| 0 | dense | {dense.Count} | {MeanStd(dense)} | {PerSeed(dense)} | — | — | {string.Join(", ", dense.Select(r => r.TotalEpochs).Distinct())} | {Time(dense)} |");
            foreach (var kappa in arch.Where(r => r.Config.Method != "dense").GroupBy(r => r.Config.Kappa).OrderBy(g => g.Key))
                foreach (var method in kappa.GroupBy(r => r.Config.Method).OrderBy(g => Array.IndexOf(Methods, g.Key)))
                {
                    var list = method.OrderBy(r => r.Config.Seed).ToList();
                    var mean = list.Average(r => r.TestAccuracy);
                    var stop = method.Key is "hs" or "l1"
                        ? string.Join(", ", list.Select(r => r.StopRuleFired ? r.ArtEpochs.ToString(CultureInfo.InvariantCulture) : $"cap {r.ArtEpochs}"))
                        : "—";
                    L(string.Create(CultureInfo.InvariantCulture,
                        $"| {kappa.Key} | {BudgetBenchmark.MethodName(method.Key)} | {list.Count} | {MeanStd(list)} | {PerSeed(list)} | {(denseMean is { } d ? Pp(mean - d) : "—")} | {stop} | {string.Join(", ", list.Select(r => r.TotalEpochs).Distinct())} | {Time(list)} |"));
                }
            L("");
            foreach (var kappa in arch.Where(r => r.Config.Method == "hs" && r.Config.Kappa >= 0.98 - 1e-9).GroupBy(r => r.Config.Kappa).OrderBy(g => g.Key))
            {
                var at = arch.Where(r => Math.Abs(r.Config.Kappa - kappa.Key) < 1e-12).ToList();
                double Mean(string m) => at.Where(r => r.Config.Method == m).Select(r => r.TestAccuracy).DefaultIfEmpty(double.NaN).Average();
                var (hs, l1, mag) = (Mean("hs"), Mean("l1"), Mean("magnitude"));
                var seeds = at.Where(r => r.Config.Method == "hs").Count();
                var verdict = double.IsNaN(l1) || double.IsNaN(mag) ? "**incomplete** (rows missing)" : hs >= l1 && hs >= mag ? "**met**" : "**not met**";
                L(Inv($"- Target (HS-ART ≥ L1-ART and ≥ magnitude), κ = {kappa.Key}: HS-ART {hs:F2} % vs L1-ART {F(l1)} %, magnitude {F(mag)} % — {verdict} (means over {seeds} seed{(seeds == 1 ? "" : "s")})."));
            }
            L("");
        }
    }

    private static string MeanStd(List<AccuracyRow> rows)
    {
        var mean = rows.Average(r => r.TestAccuracy);
        if (rows.Count < 2) return mean.ToString("F2", CultureInfo.InvariantCulture);
        var std = Math.Sqrt(rows.Sum(r => (r.TestAccuracy - mean) * (r.TestAccuracy - mean)) / (rows.Count - 1));
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F2} ± {std:F2}");
    }

    private static string PerSeed(List<AccuracyRow> rows) =>
        string.Join(", ", rows.OrderBy(r => r.Config.Seed).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.TestAccuracy:F2} (s{r.Config.Seed})")));

    private static string Time(List<AccuracyRow> rows) => BudgetBenchmark.Duration(rows.Average(r => r.TrainingSeconds)) + (rows.Count > 1 ? " avg" : "");
    private static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture);
    private static string Pp(double v) => v.ToString("+0.00;−0.00;0.00", CultureInfo.InvariantCulture);
}
