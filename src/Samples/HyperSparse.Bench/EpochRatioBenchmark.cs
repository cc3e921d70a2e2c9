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
    /// <summary>The probe's batch size (the engine's default unless <c>--probe-batch</c> set one).</summary>
    public int ProbeBatch { get; init; }

    /// <summary>Where the probe ran (<see cref="ProbeRuntime"/>); rows written before the option existed ran libtorch.</summary>
    public string ProbeRuntime { get; init; } = nameof(Microsoft.ML.HyperSparse.Engine.Training.ProbeRuntime.Torch);

    /// <summary>True when the probe's batch and runtime are the engine's own choice (the rows the target is judged on).</summary>
    public bool ProbeIsDefault { get; init; } = true;

    /// <summary>Trained with channels-last convolution weights (<see cref="TrainingOptions.ChannelsLast"/>); rows written before the option existed did not.</summary>
    public bool ChannelsLast { get; init; }

    /// <summary>The step's arithmetic (<see cref="TrainingPrecision"/>); rows written before the option existed were float32.</summary>
    public string Precision { get; init; } = nameof(TrainingPrecision.Float32);

    /// <summary>Top-1 (%) of the returned pruned model on the first <see cref="TestImages"/> t10k images (the layout's accuracy effect).</summary>
    public double TestAccuracy { get; init; } = double.NaN;

    public int TestImages { get; init; }

    /// <summary>The training run's seed (initialisation, order, augmentation).</summary>
    public int Seed { get; init; } = 7;

    /// <summary>True when every setting is the engine's own (the rows the target is judged on).</summary>
    public bool IsDefault => ProbeIsDefault && ChannelsLast == new TrainingOptions().ChannelsLast && Precision == new TrainingOptions().Precision.ToString();

    /// <summary>The variant, for tables: layout, probe runtime and batch.</summary>
    public string VariantText => $"{(ChannelsLast ? "NHWC" : "NCHW")}{(Precision == nameof(TrainingPrecision.Float32) ? "" : "; " + Precision)}; probe {ProbeText}";

    /// <summary>The probe variant, for tables: runtime and batch.</summary>
    public string ProbeText => $"{(ProbeRuntime == "OnnxRuntime" ? "ONNX Runtime" : "libtorch")}, batch {ProbeBatch}";

    /// <summary>Filling one epoch of training batches (shuffle, augmentation, normalisation into the batch buffer) without
    /// the network: the most that overlapping data loading with compute could take off a fine-tune epoch.</summary>
    public double LoadSeconds { get; init; }

    /// <summary>The same for one epoch of the probe's batches, plus turning each into tensors as the probe does.</summary>
    public double ProbeLoadSeconds { get; init; }

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
        var probeBatch = args.GetInt("probe-batch", 0, 0);
        var probeRuntime = args.Get("probe") switch
        {
            null => new TrainingOptions().Probe,
            "onnxruntime" => ProbeRuntime.OnnxRuntime,
            "torch" => ProbeRuntime.Torch,
            var other => throw new ArgumentException($"--probe must be onnxruntime or torch; found '{other}'."),
        };
        var channelsLast = args.Get("layout") switch
        {
            null => new TrainingOptions().ChannelsLast,
            "nhwc" => true,
            "nchw" => false,
            var other => throw new ArgumentException($"--layout must be nhwc or nchw; found '{other}'."),
        };
        var precision = args.Get("precision") switch
        {
            null => new TrainingOptions().Precision,
            "fp32" => TrainingPrecision.Float32,
            "bf16" => TrainingPrecision.BFloat16,
            var other => throw new ArgumentException($"--precision must be fp32 or bf16; found '{other}'."),
        };
        var testImages = args.GetInt("test", 2000, 100);
        var seed = args.GetInt("seed", 7, 0);
        var raw = args.Get("raw") ?? throw new ArgumentException("epoch-ratio needs --raw FILE (rows are appended).");
        args.EnsureAllUsed();

        TorchRuntime.EnsureLoaded();
        TorchRuntime.TuneAllocatorForTraining(true);
        torch.set_num_threads(threads);
        var (train, test) = BenchModels.Data(images, testImages);
        var options = BenchModels.EngineOptions(arch, kappa: 0.9, batch, learningRate: 0.05, warmup: 1, maxArt: art, fineTune: fineTune,
            learningRateSteps: [], lambdaInit: 1e-5, lambdaGrowth: 1.2, cropPadding: 2, seed: seed, threads: threads) with
        {
            // A window wider than the phase: ART runs exactly --art epochs.
            StopWindowHalfSize = art,
            Probe = probeRuntime,
            ChannelsLast = channelsLast,
            Precision = precision,
        };
        var started = Machine.UtcNow();
        var normalization = Normalization.FromData(train, 1f / 255);
        var probeBatchUsed = probeBatch > 0 ? probeBatch : ArtTrainer.ProbeBatchSize(options);
        var result = new ArtTrainer(options, BenchModels.PrintEpoch, m => Console.WriteLine("  " + m)) { ProbeBatch = probeBatchUsed }
            .Train(train, null, normalization);
        result.Mask.Dispose();
        var testAccuracy = SizeBenchmark.Accuracy(SizeBenchmark.ArgMax(BenchModels.TorchLogits(result.Model, test, normalization), test.ClassCount), test.Labels);
        result.Model.Dispose();
        var epochs = result.Report.Epochs;
        var artEpochs = epochs.Where(e => e.Phase == TrainingPhase.Art).Skip(1).ToList();
        var fineTuneEpochs = epochs.Where(e => e.Phase == TrainingPhase.FineTune).Skip(1).ToList();
        var row = new EpochRatioRow(
            StepBenchmark.ArchName(arch), train.Count, batch, threads, artEpochs.Count + 1, fineTuneEpochs.Count + 1,
            Stats.Of(artEpochs.Select(e => e.Seconds).ToList()).Median, Stats.Of(artEpochs.Select(e => e.ProbeSeconds ?? double.NaN).ToList()).Median,
            Stats.Of(fineTuneEpochs.Select(e => e.Seconds).ToList()).Median, round, started)
        {
            ProbeBatch = probeBatchUsed,
            ProbeRuntime = probeRuntime.ToString(),
            ProbeIsDefault = probeBatch == 0 && probeRuntime == new TrainingOptions().Probe,
            ChannelsLast = channelsLast,
            Precision = precision.ToString(),
            TestAccuracy = Math.Round(testAccuracy, 2),
            TestImages = test.Count,
            Seed = seed,
            LoadSeconds = LoadingSeconds(new BatchLoader(train, batch, normalization, new Augmentation(options.CropPadding, options.HorizontalFlip), shuffle: true, options.Seed), toTensors: false),
            ProbeLoadSeconds = LoadingSeconds(new BatchLoader(train, probeBatchUsed, normalization, new Augmentation(options.CropPadding, options.HorizontalFlip), shuffle: false, options.Seed), toTensors: true),
        };
        File.AppendAllText(raw, JsonSerializer.Serialize(row, StepReport.Json) + "\n");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch-ratio: {row.Arch} {row.Images:N0} images b{batch} {threads} thread(s): ART epoch {row.ArtEpochSeconds:F2} s (probe {row.ProbeSeconds:F2} s), " +
            $"fine-tune epoch {row.FineTuneEpochSeconds:F2} s, ratio {row.Ratio:F2}×; {row.VariantText}; test accuracy {row.TestAccuracy:F2} % on {row.TestImages:N0}; loading alone: training epoch {row.LoadSeconds:F3} s, probe {row.ProbeLoadSeconds:F3} s"));
        return 0;
    }

    /// <summary>Median over 3 epochs (after one untimed) of enumerating the loader's batches without any network.</summary>
    private static double LoadingSeconds(BatchLoader loader, bool toTensors)
    {
        var times = new List<double>();
        for (var epoch = 0; epoch < 4; epoch++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            foreach (var batch in loader.Epoch(epoch))
            {
                if (!toTensors) continue;
                var (images, labels) = batch.ToTensors();
                images.Dispose();
                labels.Dispose();
            }
            if (epoch > 0) times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        return Stats.Of(times).Median;
    }
}
