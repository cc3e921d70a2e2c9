using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Training;
using TorchSharp;

namespace HyperSparse.Bench;

/// <summary>
/// `memory`: trains LeNet-5 through the engine (warm-up, ART with the HyperSparse regulariser, prune, masked fine-tune,
/// a checkpoint after every epoch) on a Fashion-MNIST slice and prints, after every epoch, the process's resident memory
/// (VmRSS from /proc/self/status), the managed heap and the tensors alive on the training thread. Ends with the RSS growth
/// from epoch 2 to epoch 10 (1-based) and PASS when it is at most --max-growth percent (exit code 1 otherwise).
/// With --collect on (default) a full blocking GC runs before each reading, so the managed heap counts live objects only:
/// garbage the GC has not yet collected is not a leak, and without it the managed column grows by the epoch's garbage until
/// the next collection. --collect off shows the raw figures. Native memory is never trimmed: freed memory the allocator keeps
/// (the trainer's glibc setting keeps it on purpose) stays in the RSS.
/// </summary>
internal static class MemoryBenchmark
{
    private sealed record Sample(int Epoch, string Phase, double RssMb, double ManagedMb, long LiveTensors, double Seconds);

    public static int Run(Args args)
    {
        var trainImages = args.GetInt("train", 10_000, 100);
        var batch = args.GetInt("batch", 256, 1);
        var warmup = args.GetInt("warmup-epochs", 4, 1);
        var artCap = args.GetInt("art-cap", 4, 1);
        var fineTune = args.GetInt("fine-tune-epochs", 6, 1);
        var threads = args.GetInt("threads", 2, 1);
        var seed = args.GetInt("seed", 7, 0);
        var from = args.GetInt("from", 2, 1);
        var to = args.GetInt("to", 10, 2);
        var maxGrowth = args.GetDouble("max-growth", 5.0);
        var checkpoints = args.GetOnOff("checkpoints", true);
        var collect = args.GetOnOff("collect", true);
        args.EnsureAllUsed();
        if (to <= from) throw new ArgumentException($"--to must be greater than --from, got {from} and {to}.");
        if (warmup + 1 + fineTune < to)
            throw new ArgumentException($"The run must have at least {to} epochs: --warmup-epochs {warmup} + ≥ 1 ART + --fine-tune-epochs {fineTune} is fewer.");
        if (!File.Exists("/proc/self/status")) throw new ArgumentException("memory needs /proc/self/status (Linux) to read the resident set size.");

        var dir = FashionMnist.TryLocate() ?? throw new ArgumentException("Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or set HYPERSPARSE_FASHION_MNIST_DIR).");
        TorchRuntime.EnsureLoaded();
        var train = FashionMnist.Read(dir, train: true, limit: trainImages);
        var norm = Normalization.FromData(train, 1f / 255);
        var folder = Path.Combine(Path.GetTempPath(), "hs-bench-memory-" + Guid.NewGuid().ToString("N"));
        var options = new TrainingOptions
        {
            Architecture = Architecture.LeNet5,
            PruningRate = 0.98,
            WarmupEpochs = warmup,
            MaxArtEpochs = artCap,
            FineTuneEpochs = fineTune,
            LearningRateSteps = new[] { fineTune / 2 },
            LambdaInit = 2e-4,
            LambdaGrowth = 1.5,
            BatchSize = batch,
            LearningRate = 0.05,
            CropPadding = 2,
            Seed = seed,
            Threads = threads,
            CheckpointDirectory = checkpoints ? folder : null,
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: LeNet-5, κ 0.98, {train.Count:N0} Fashion-MNIST training images, batch {batch}, {threads} thread(s), warm-up {warmup}, ART ≤ {artCap}, fine-tune {fineTune}, checkpoints {(checkpoints ? "on" : "off")}, full GC before each reading {(collect ? "on" : "off")}, seed {seed}"));
        var startRss = RssMb();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory: RSS before training {startRss:F1} MB (TorchSharp loaded, data read)"));
        Console.WriteLine();
        Console.WriteLine("| epoch | phase | RSS MB | Δ RSS vs epoch " + from + " | managed heap MB | live tensors | seconds |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|");

        var stats = DisposeScopeManager.Statistics;   // the training thread is this thread
        var samples = new List<Sample>();
        double? reference = null;
        try
        {
            var trainer = new ArtTrainer(options, e =>
            {
                if (collect) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                var sample = new Sample(e.Epoch + 1, e.Phase.ToString(), RssMb(), GC.GetTotalMemory(false) / 1048576.0, stats.ThreadTotalLiveCount, e.Seconds);
                samples.Add(sample);
                if (sample.Epoch == from) reference = sample.RssMb;
                var delta = reference is { } r ? string.Create(CultureInfo.InvariantCulture, $"{(sample.RssMb - r) / r * 100:+0.00;-0.00;0.00} %") : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {sample.Epoch} | {sample.Phase} | {sample.RssMb:F1} | {delta} | {sample.ManagedMb:F1} | {sample.LiveTensors} | {sample.Seconds:F1} |"));
            });
            var watch = Stopwatch.StartNew();
            using var result = trainer.Train(train, null, norm);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory: {samples.Count} epochs in {watch.Elapsed.TotalSeconds:F0} s; kept {result.Report.KeptWeights:N0} of {result.Report.PrunableWeights:N0} weights; ART {result.Report.ArtStopReason} after {result.Report.ArtEpochs} epochs"));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }

        var a = samples.FirstOrDefault(s => s.Epoch == from);
        var b = samples.FirstOrDefault(s => s.Epoch == to);
        if (a is null || b is null)
        {
            Console.WriteLine($"memory: the run had {samples.Count} epochs, fewer than --to {to}; raise --fine-tune-epochs.");
            return 1;
        }
        var growth = (b.RssMb - a.RssMb) / a.RssMb * 100;
        var pass = growth <= maxGrowth;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: RSS epoch {from} {a.RssMb:F1} MB → epoch {to} {b.RssMb:F1} MB: growth {growth:+0.00;-0.00;0.00} % (target ≤ {maxGrowth} %) {(pass ? "PASS" : "FAIL")}; " +
            $"live tensors {a.LiveTensors} → {b.LiveTensors}; peak RSS {samples.Max(s => s.RssMb):F1} MB"));
        // The per-epoch trend inside the last phase (no phase change, so no change of working set): what a leak would show.
        var last = samples.Where(s => s.Phase == samples[^1].Phase).ToList();
        if (last.Count >= 2)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory: within the last phase ({last[0].Phase}, epochs {last[0].Epoch}–{last[^1].Epoch}): RSS {last[0].RssMb:F1} → {last[^1].RssMb:F1} MB, " +
                $"{(last[^1].RssMb - last[0].RssMb) / (last.Count - 1):+0.00;-0.00;0.00} MB per epoch; live tensors {last[0].LiveTensors} → {last[^1].LiveTensors}"));
        return pass ? 0 : 1;
    }

    /// <summary>VmRSS of this process in MB.</summary>
    private static double RssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            return kb / 1024.0;
        }
        throw new InvalidOperationException("/proc/self/status has no VmRSS line.");
    }
}
