using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.HyperSparse.Network;

namespace HyperSparse.Bench;

/// <summary>Everything that decides a trained benchmark model: the cache key of <see cref="BenchModels"/>.</summary>
internal sealed record TrainConfig(
    string Arch, double Kappa, int TrainImages, int Batch, double LearningRate, int WarmupEpochs, int MaxArtEpochs,
    int FineTuneEpochs, int[] LearningRateSteps, double LambdaInit, double LambdaGrowth, int CropPadding, int Seed, int Threads)
{
    /// <summary>The display name of ML.NET's ResNet-18 started from its ImageNet weights (architecture ResNet18MLNet).</summary>
    public const string PretrainedResNet18 = "ResNet-18 pretrained";

    [JsonIgnore]
    public Architecture Architecture => Arch == PretrainedResNet18 ? Architecture.ResNet18MLNet : Architectures.Parse(Arch);

    /// <summary>File stem of the cached model: readable prefix plus a hash of the whole config.</summary>
    [JsonIgnore]
    public string Key
    {
        get
        {
            var json = JsonSerializer.Serialize(this);
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..12];
            var stem = new string(Arch.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-').ToArray());
            return string.Create(CultureInfo.InvariantCulture, $"{stem}-k{Kappa}-{hash}");
        }
    }

    public bool SameAs(TrainConfig other) =>
        this with { LearningRateSteps = [] } == other with { LearningRateSteps = [] } && LearningRateSteps.SequenceEqual(other.LearningRateSteps);

    /// <summary>The documented short schedules: one row takes a few minutes on an idle 2-core box (measured step times in comments).</summary>
    public static TrainConfig Default(Architecture arch, double kappa) => arch switch
    {
        // ≈8 ms per b128 step; 20,000 images = 157 steps per epoch, ≈2 s per epoch with the probe and the test pass.
        Architecture.LeNet5 => new TrainConfig("LeNet-5", kappa, TrainImages: 20_000, Batch: 128, LearningRate: 0.05,
            WarmupEpochs: 8, MaxArtEpochs: 20, FineTuneEpochs: 12, LearningRateSteps: [8], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        // ≈150 ms per b128 step; 2,560 images = 20 steps per epoch, ≈5 s per ART epoch with the probe and the test pass:
        // ≈3 min for 6 + ≤20 + 8 epochs. With this seed the pruned copy stays at chance until λ ≈ 3e-3 (ART epoch 8), so the
        // cap is 20 (a cap of 10 forced the prune at every κ).
        Architecture.ResNet20 => new TrainConfig("ResNet-20", kappa, TrainImages: 2_560, Batch: 128, LearningRate: 0.05,
            WarmupEpochs: 6, MaxArtEpochs: 20, FineTuneEpochs: 8, LearningRateSteps: [5], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        // The paper's 32/64/128-wide ResNet-32: ≈480 ms per b64 step; 1,280 images = 20 steps per epoch, ≈14 s per ART epoch
        // with the probe and the test pass: ≈4 min for 3 + ≤10 + 3 epochs. λ starts higher and grows as fast as for ResNet-20,
        // so the short ART phase reaches the λ (≈3e-3) at which ResNet-20's pruned copy started to learn.
        Architecture.ResNet32 => new TrainConfig("ResNet-32", kappa, TrainImages: 1_280, Batch: 64, LearningRate: 0.05,
            WarmupEpochs: 3, MaxArtEpochs: 10, FineTuneEpochs: 3, LearningRateSteps: [2], LambdaInit: 5e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        // ML.NET's ImageNet ResNet-18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18) as a pretrained start, Fashion-MNIST
        // upscaled to 64×64 and replicated to RGB, with the transfer profile (TrainingDefaults.Transfer: head stage 2, λ 1.5e-2 ·
        // 1.15^e ≤ 20 ART epochs, 16 fine-tune epochs): the transfer benchmark's (c) row at 1,000 training images, ≈5–6 min.
        Architecture.ResNet18MLNet => new TrainConfig(PretrainedResNet18, kappa, TrainImages: 1_000, Batch: 32,
            LearningRate: TrainingDefaults.Transfer.LearningRate, WarmupEpochs: TrainingDefaults.Transfer.HeadEpochs,
            MaxArtEpochs: TrainingDefaults.Transfer.MaxArtEpochs, FineTuneEpochs: TrainingDefaults.Transfer.FineTuneEpochs,
            LearningRateSteps: [.. TrainingDefaults.Transfer.LearningRateSteps], LambdaInit: TrainingDefaults.Transfer.LambdaInit,
            LambdaGrowth: TrainingDefaults.Transfer.LambdaGrowth, CropPadding: 4, Seed: 7, Threads: 2),
        _ => throw new ArgumentException($"the benchmark trains lenet5, resnet20, resnet32 and resnet18mlnet, not {arch}."),
    };

    /// <summary>The `--quick` schedules: just enough training to exercise every step of a row (minutes in all, not results).</summary>
    public static TrainConfig Quick(Architecture arch, double kappa) => arch switch
    {
        Architecture.LeNet5 => new TrainConfig("LeNet-5", kappa, TrainImages: 2_000, Batch: 128, LearningRate: 0.05,
            WarmupEpochs: 1, MaxArtEpochs: 2, FineTuneEpochs: 1, LearningRateSteps: [], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        Architecture.ResNet20 => new TrainConfig("ResNet-20", kappa, TrainImages: 256, Batch: 64, LearningRate: 0.05,
            WarmupEpochs: 1, MaxArtEpochs: 1, FineTuneEpochs: 1, LearningRateSteps: [], LambdaInit: 2e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        Architecture.ResNet32 => new TrainConfig("ResNet-32", kappa, TrainImages: 128, Batch: 64, LearningRate: 0.05,
            WarmupEpochs: 1, MaxArtEpochs: 1, FineTuneEpochs: 1, LearningRateSteps: [], LambdaInit: 5e-4, LambdaGrowth: 1.5,
            CropPadding: 2, Seed: 7, Threads: 2),
        Architecture.ResNet18MLNet => Default(arch, kappa) with { TrainImages = 64, WarmupEpochs = 1, MaxArtEpochs = 1, FineTuneEpochs = 1, LearningRateSteps = [] },
        _ => throw new ArgumentException($"the benchmark trains lenet5, resnet20 and resnet32, not {arch}."),
    };

    /// <summary>Applies the schedule options a `size` or `latency` command was given (each overrides one field).</summary>
    public TrainConfig With(Args args) => this with
    {
        TrainImages = args.GetInt("train", TrainImages, 100),
        Batch = args.GetInt("batch", Batch, 1),
        LearningRate = args.GetDouble("lr", LearningRate),
        WarmupEpochs = args.GetInt("warmup-epochs", WarmupEpochs, 1),
        MaxArtEpochs = args.GetInt("art-cap", MaxArtEpochs, 1),
        FineTuneEpochs = args.GetInt("fine-tune-epochs", FineTuneEpochs, 1),
        LearningRateSteps = Args.ParseInts(args.Get("lr-steps"), "lr-steps") ?? LearningRateSteps,
        LambdaInit = args.GetDouble("lambda-init", LambdaInit),
        LambdaGrowth = args.GetDouble("lambda-growth", LambdaGrowth),
        CropPadding = args.GetInt("crop", CropPadding, 0),
        Seed = args.GetInt("seed", Seed, 0),
        Threads = args.GetInt("threads", Threads, 1),
    };

    /// <summary>Reads `--arch`, `--kappa` and `--quick` and the schedule overrides.</summary>
    public static TrainConfig FromArgs(Args args)
    {
        var arch = Architectures.Parse(args.Get("arch") ?? throw new ArgumentException("--arch is required (lenet5, resnet20, resnet32, resnet18mlnet)."));
        var kappa = args.GetDouble("kappa", double.NaN);
        if (!(kappa is > 0 and < 1)) throw new ArgumentException($"--kappa must be in (0, 1), got {kappa}.");
        var quick = args.GetOnOff("quick", false);
        return (quick ? Quick(arch, kappa) : Default(arch, kappa)).With(args);
    }
}

/// <summary>One epoch of the training log, as kept beside a cached model.</summary>
internal sealed record EpochSummary(
    string Phase, int PhaseEpoch, double LearningRate, double Lambda, double TrainLoss, double TrainAccuracy,
    double? PrunedTrainAccuracy, double? TestAccuracy, double Sparsity, double Seconds);

/// <summary>What training did, stored as JSON beside the cached state dict so a re-export can report it without retraining.</summary>
internal sealed record TrainedModelInfo(
    TrainConfig Config, string TrainedUtc, string LoadStart, string LoadEnd, string Revision,
    int Channels, int Height, int Width, int ClassCount,
    float PixelScale, float[] Mean, float[] Std,
    string ArtStopReason, int ArtEpochs, int? SelectedArtEpoch,
    long PrunableWeights, long KeptWeights, double AchievedSparsity,
    EpochSummary[] Epochs, string[] Notes)
{
    public Normalization Normalization => new(PixelScale, Mean, Std);
    public double SecondsIn(string phase) => Epochs.Where(e => e.Phase == phase).Sum(e => e.Seconds);
}

/// <summary>A trained model loaded from (or just written to) the cache.</summary>
internal sealed record TrainedModel(ImageClassifier Model, TrainedModelInfo Info, bool Trained) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// The trained models of the benchmark rows, cached under a directory (artifacts/bench-models by default, git-ignored) as the
/// model's TorchSharp state dict (<c>Module.save</c>) plus a JSON file with the normalisation and the training log. A row
/// whose encoder changed is re-measured from the cached model instead of retrained.
/// </summary>
internal static class BenchModels
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string DefaultDirectory => Path.Combine("artifacts", "bench-models");

    /// <summary>The cached model for <paramref name="config"/>, or a freshly trained one (then cached) when none is stored or <paramref name="retrain"/>.</summary>
    public static TrainedModel GetOrTrain(TrainConfig config, string directory, bool retrain, string revision, ImageDataset train, ImageDataset test)
    {
        var stem = Path.Combine(directory, config.Key);
        if (!retrain && File.Exists(stem + ".json") && File.Exists(stem + ".pt"))
        {
            var info = JsonSerializer.Deserialize<TrainedModelInfo>(File.ReadAllText(stem + ".json"), Json)
                       ?? throw new InvalidDataException($"Empty model info in {stem}.json.");
            if (info.Config.SameAs(config))
            {
                TorchRuntime.EnsureLoaded();
                torch.set_num_threads(config.Threads);
                var model = ModelFactory.Create(config.Architecture, new ImageShape(info.Channels, info.Height, info.Width), info.ClassCount);
                model.load(stem + ".pt");
                model.eval();
                Console.WriteLine($"bench: model loaded from {stem}.pt (trained {info.TrainedUtc}); not retrained");
                return new TrainedModel(model, info, Trained: false);
            }
        }

        var trained = Train(config, revision, train, test);
        Directory.CreateDirectory(directory);
        // Temporary names in the same directory, then renames: a reader never sees half a model. The state dict goes first,
        // so a JSON file always has its model beside it.
        var suffix = $".{Environment.ProcessId}.tmp";
        trained.Model.save(stem + ".pt" + suffix);
        File.Move(stem + ".pt" + suffix, stem + ".pt", overwrite: true);
        File.WriteAllText(stem + ".json" + suffix, JsonSerializer.Serialize(trained.Info, Json));
        File.Move(stem + ".json" + suffix, stem + ".json", overwrite: true);
        Console.WriteLine($"bench: model cached as {stem}.pt");
        return trained;
    }

    private static TrainedModel Train(TrainConfig config, string revision, ImageDataset train, ImageDataset test)
    {
        var started = DateTime.UtcNow;
        var loadStart = Machine.LoadAverage();
        var options = EngineOptions(config.Architecture, config.Kappa, config.Batch, config.LearningRate, config.WarmupEpochs,
            config.MaxArtEpochs, config.FineTuneEpochs, config.LearningRateSteps, config.LambdaInit, config.LambdaGrowth, config.CropPadding,
            config.Seed, config.Threads);
        var normalization = Normalization.FromData(train, 1f / 255);
        if (config.Architecture == Architecture.ResNet18MLNet)
        {
            // The pretrained start as Fit makes it: the package's weights, their preprocessing, a new head.
            var weights = MLNetResNet18.ReadWeights();
            normalization = PretrainedLoader.Normalization(weights, 1f / 255);
            options = options with { Pretrained = new PretrainedStart("imagenet", KeepHead: false) { Weights = weights } };
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bench: training {config.Arch} κ = {config.Kappa}: {train.Count} train / {test.Count} test images, {config.WarmupEpochs} warm-up + ≤{config.MaxArtEpochs} ART + {config.FineTuneEpochs} fine-tune epochs, batch {config.Batch}"));
        // The test slice is passed as the trainer's validation set only to log accuracy per epoch: nothing is selected on it
        // (ART's stop rule and pruned-copy choice use train accuracy; the final epoch's model is kept).
        var result = new ArtTrainer(options, PrintEpoch, m => Console.WriteLine("  " + m)).Train(train, test, normalization);
        result.Mask.Dispose();
        result.Model.eval();
        var r = result.Report;
        var info = new TrainedModelInfo(
            config, started.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), loadStart, Machine.LoadAverage(), revision,
            train.Channels, train.Height, train.Width, train.ClassCount,
            normalization.PixelScale, normalization.Mean, normalization.Std,
            r.ArtStopReason.ToString(), r.ArtEpochs, r.SelectedArtEpoch,
            r.PrunableWeights, r.KeptWeights, r.AchievedSparsity,
            r.Epochs.Select(e => new EpochSummary(e.Phase.ToString(), e.PhaseEpoch, e.LearningRate, e.Lambda, e.TrainLoss, e.TrainAccuracy,
                e.PrunedTrainAccuracy, e.ValidationAccuracy, e.Sparsity, e.Seconds)).ToArray(),
            r.Notes.ToArray());
        return new TrainedModel(result.Model, info, Trained: true);
    }

    /// <summary>One line per finished epoch on the console (test accuracy when the trainer was given a test set).</summary>
    public static void PrintEpoch(EpochRecord e) => Console.WriteLine(
        FormattableString.Invariant($"  {e.Phase,-8} {e.PhaseEpoch + 1,2}: loss {e.TrainLoss:F3} train {e.TrainAccuracy:F1} %") +
        (e.Phase == TrainingPhase.Art ? FormattableString.Invariant($" λ {e.Lambda:G3} pruned-train {e.PrunedTrainAccuracy:F1} %") : "") +
        (e.ValidationAccuracy is { } test ? FormattableString.Invariant($" test {test:F1} %") : "") +
        FormattableString.Invariant($" sparsity {e.Sparsity:P1} {e.Seconds:F1} s"));

    /// <summary>
    /// The one place the benchmarks turn a schedule into engine options: HyperSparse-ART with these settings, no flips (the
    /// benchmarks' images are Fashion-MNIST); callers change method, regulariser or checkpoints with <c>with</c>.
    /// </summary>
    public static TrainingOptions EngineOptions(Architecture architecture, double kappa, int batch, double learningRate, int warmup, int maxArt,
        int fineTune, int[] learningRateSteps, double lambdaInit, double lambdaGrowth, int cropPadding, int seed, int threads) => new()
    {
        Architecture = architecture,
        Method = PruningMethod.Art,
        Regularizer = RegularizerKind.HyperSparse,
        PruningRate = kappa,
        WarmupEpochs = warmup,
        MaxArtEpochs = maxArt,
        FineTuneEpochs = fineTune,
        LearningRateSteps = learningRateSteps,
        LambdaInit = lambdaInit,
        LambdaGrowth = lambdaGrowth,
        BatchSize = batch,
        LearningRate = learningRate,
        CropPadding = cropPadding,
        HorizontalFlip = false,
        Seed = seed,
        Threads = threads,
    };

    /// <summary>The network as the ONNX writer takes it (normalisation baked in).</summary>
    public static NetworkDescription Describe(TrainedModel trained) => trained.Model.DescribeNetwork("image", trained.Info.Normalization);

    /// <summary>Fashion-MNIST: the first <paramref name="trainImages"/> of the training split and the first <paramref name="testImages"/> of t10k.</summary>
    public static (ImageDataset Train, ImageDataset Test) Data(int trainImages, int testImages)
    {
        var dir = FashionMnist.TryLocate()
                  ?? throw new ArgumentException($"Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or set {FashionMnist.DirectoryVariable}).");
        return (FashionMnist.Read(dir, train: true, limit: trainImages), FashionMnist.Read(dir, train: false, limit: testImages));
    }

    /// <summary>
    /// The data a configuration trains and is tested on: <see cref="Data"/> as it is, or for the pretrained ResNet-18 upscaled
    /// to 64×64 (bilinear, <see cref="Upscale"/>) and replicated to its three input channels.
    /// </summary>
    public static (ImageDataset Train, ImageDataset Test) DataFor(TrainConfig config, int testImages)
    {
        var (train, test) = Data(config.TrainImages, testImages);
        if (config.Architecture != Architecture.ResNet18MLNet) return (train, test);
        return (Upscale(train, PretrainedSide).ReplicateChannels(3), Upscale(test, PretrainedSide).ReplicateChannels(3));
    }

    /// <summary>Input side of the pretrained ResNet-18 rows (the transfer benchmark's size).</summary>
    public const int PretrainedSide = 64;

    /// <summary>One-channel images resized to side×side by bilinear interpolation (pixel centres aligned, edges clamped).</summary>
    public static ImageDataset Upscale(ImageDataset data, int side)
    {
        if (data.Channels != 1) throw new ArgumentException($"Expected one-channel images, found {data.Channels}.", nameof(data));
        long total = (long)data.Count * side * side;
        if (total > Array.MaxLength) throw new ArgumentException($"{data.Count:N0} images of {side}×{side} need {total:N0} floats, more than one array holds.");
        var pixels = new float[total];
        int h = data.Height, w = data.Width;
        for (var n = 0; n < data.Count; n++)
        {
            var src = data.Pixels.AsSpan(n * data.ImageSize, data.ImageSize);
            var dst = pixels.AsSpan(n * side * side, side * side);
            for (var y = 0; y < side; y++)
            {
                var sy = Math.Clamp((y + 0.5) * h / side - 0.5, 0, h - 1);
                int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
                var fy = (float)(sy - y0);
                for (var x = 0; x < side; x++)
                {
                    var sx = Math.Clamp((x + 0.5) * w / side - 0.5, 0, w - 1);
                    int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                    var fx = (float)(sx - x0);
                    var top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
                    var bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
                    dst[y * side + x] = top * (1 - fy) + bottom * fy;
                }
            }
        }
        return new ImageDataset(pixels, (int[])data.Labels.Clone(), 1, side, side, data.ClassCount);
    }

    /// <summary>The whole official test split (t10k, 10,000 images).</summary>
    public static ImageDataset FullTest()
    {
        var dir = FashionMnist.TryLocate()
                  ?? throw new ArgumentException($"Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or set {FashionMnist.DirectoryVariable}).");
        return FashionMnist.Read(dir, train: false);
    }

    /// <summary>TorchSharp (eval mode) logits over <paramref name="data"/>, row-major [count, classes].</summary>
    public static float[] TorchLogits(ImageClassifier model, ImageDataset data, Normalization normalization)
    {
        model.eval();
        using var _ = no_grad();
        var logits = new List<float>(data.Count * data.ClassCount);
        var loader = new BatchLoader(data, 250, normalization, Augmentation.None, shuffle: false, seed: 0);
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            var (x, _) = batch.ToTensors();
            using var y = model.call(x).contiguous();
            logits.AddRange(y.data<float>().ToArray());
        }
        return logits.ToArray();
    }
}
