using System.Globalization;
using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Training;
using TorchSharp;

namespace HyperSparse.Bench;

/// <summary>One `epoch-ratio` run: median ART and fine-tune epoch times of one training with a fixed schedule.</summary>
internal sealed record EpochRatioRow(
    string Arch, int Images, int Batch, int Threads, int ArtEpochs, int FineTuneEpochs,
    double ArtEpochSeconds, double ProbeSeconds, double FineTuneEpochSeconds, int Round, string StartedUtc)
{
    public double Ratio => ArtEpochSeconds / FineTuneEpochSeconds;
}

/// <summary>
/// `epoch-ratio` (issue #22): what an ART epoch costs next to a fine-tune epoch, measured in the engine's own trainer. One
/// training with a fixed schedule on a Fashion-MNIST slice: 1 warm-up epoch, <c>--art</c> ART epochs (the stop rule's window
/// made wider than the phase, so it cannot end ART early), the prune, <c>--finetune</c> masked fine-tune epochs; no validation
/// set, so neither phase scores anything but what training itself needs. The first epoch of each phase is left out (allocator
/// and oneDNN warm-up); the row holds the medians of the rest and the probe's share of the ART epochs.
/// </summary>
internal static class EpochRatioBenchmark
{
    public static int Run(Args args)
    {
        var arch = Architectures.Parse(args.Get("arch") ?? throw new ArgumentException("epoch-ratio needs --arch (lenet5, resnet20)."));
        var images = args.GetInt("train", 20_000, 100);
        var batch = args.GetInt("batch", 128, 1);
        var art = args.GetInt("art", 4, 2);
        var fineTune = args.GetInt("finetune", 4, 2);
        var threads = args.GetInt("threads", 2, 1);
        var round = args.GetInt("round", -1, -1);
        var raw = args.Get("raw") ?? throw new ArgumentException("epoch-ratio needs --raw FILE (rows are appended).");
        args.EnsureAllUsed();

        TorchRuntime.EnsureLoaded();
        TorchRuntime.TuneAllocatorForTraining(true);
        torch.set_num_threads(threads);
        var (train, _) = BenchModels.Data(images, 1);
        var options = BenchModels.EngineOptions(arch, kappa: 0.9, batch, learningRate: 0.05, warmup: 1, maxArt: art, fineTune: fineTune,
            learningRateSteps: [], lambdaInit: 1e-5, lambdaGrowth: 1.2, cropPadding: 2, seed: 7, threads: threads) with
        {
            // A window wider than the phase: ART runs exactly --art epochs.
            StopWindowHalfSize = art,
        };
        var started = Machine.UtcNow();
        var result = new ArtTrainer(options, BenchModels.PrintEpoch, m => Console.WriteLine("  " + m)).Train(train, null, Normalization.FromData(train, 1f / 255));
        result.Mask.Dispose();
        result.Model.Dispose();
        var epochs = result.Report.Epochs;
        var artEpochs = epochs.Where(e => e.Phase == TrainingPhase.Art).Skip(1).ToList();
        var fineTuneEpochs = epochs.Where(e => e.Phase == TrainingPhase.FineTune).Skip(1).ToList();
        var row = new EpochRatioRow(
            StepBenchmark.ArchName(arch), train.Count, batch, threads, artEpochs.Count + 1, fineTuneEpochs.Count + 1,
            Stats.Of(artEpochs.Select(e => e.Seconds).ToList()).Median, Stats.Of(artEpochs.Select(e => e.ProbeSeconds ?? double.NaN).ToList()).Median,
            Stats.Of(fineTuneEpochs.Select(e => e.Seconds).ToList()).Median, round, started);
        File.AppendAllText(raw, JsonSerializer.Serialize(row, StepReport.Json) + "\n");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch-ratio: {row.Arch} {row.Images:N0} images b{batch} {threads} thread(s): ART epoch {row.ArtEpochSeconds:F2} s (probe {row.ProbeSeconds:F2} s), " +
            $"fine-tune epoch {row.FineTuneEpochSeconds:F2} s, ratio {row.Ratio:F2}×"));
        return 0;
    }
}
