using System.Diagnostics;
using System.Globalization;
using HyperSparse.Cli.Data;
using HyperSparse.Cli.Output;
using HyperSparse.Cli.Scoring;
using HyperSparse.Cli.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.Transforms.Image;
using Spectre.Console;
using Profile = HyperSparse.Cli.Training.Profile;

namespace HyperSparse.Cli.Commands;

/// <summary>
/// <c>hypersparse train</c>: images → ML.NET pipeline (MapValueToKey → [LoadImages] → ResizeImages → ExtractPixels →
/// HyperSparseClassification) → model.zip, model.onnx, report.md/json, plots and Consume.cs.
/// </summary>
internal static class TrainCommand
{
    public const string Name = "train";

    public static readonly OptionSpec[] Options =
    {
        new("--data", "a folder of class subfolders of images, or an IDX folder (e.g. Fashion-MNIST)"),
        new("--out", "a folder to write model.zip, model.onnx, the report, plots and Consume.cs to"),
        new("--sparsity", "a number strictly between 0 and 1 (κ, the fraction of weights set to zero)", Default: "0.9"),
        new("--min-weights-per-layer", "a number of weights ≥ 0 every layer keeps (0 = the paper's global rule)", Default: "0"),
        new("--arch", "one of lenet5, resnet20, resnet32, vgg19, mlp, resnet18, resnet34", Default: "lenet5"),
        new("--image-size", "an image side in pixels (LeNet-5 ≥ 12, VGG-19 ≥ 16, ResNet-18/34 ≥ 32, others ≥ 8; at most 512)"),
        new("--profile", "one of quick, standard, paper, transfer (transfer: the default with --pretrained)", Default: "quick"),
        new("--pretrained", "imagenet (ML.NET's ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18), or a .onnx / PyTorch state_dict file of a torchvision-layout ResNet-18/34"),
        new("--keep-classifier", "", IsFlag: true),
        new("--batch-norm", "one of frozen, train (frozen: batch norm keeps its running statistics; default train, and a pretrained start's head stage always keeps them)"),
        new("--time-budget", "a positive duration with units s, m or h (e.g. 90s, 20m, 1.5h, 1h30m)"),
        new("--resume", "", IsFlag: true),
        new("--seed", "an integer ≥ 0", Default: "42"),
        new("--limit", "a positive number of images"),
        new("--channels", "one of auto, 1, 3", Default: "auto"),
        new("--holdout", "a fraction in [0, 0.5] of each class held out for evaluation", Default: "0.1"),
        new("--class-names", "one of auto, fashion, digits", Default: "auto"),
        new("--warmup", "a number of epochs ≥ 0"),
        new("--max-art", "a number of epochs ≥ 1"),
        new("--finetune", "a number of epochs ≥ 0"),
        new("--batch-size", "a positive batch size"),
        new("--lr", "a positive learning rate"),
        new("--lambda-init", "a positive λ_init"),
        new("--lambda-growth", "a growth factor η ≥ 1"),
        new("--crop-padding", "a number of pixels ≥ 0 (random-crop padding; 0 = no crops)"),
        new("--method", "one of art, oneshot", Default: "art"),
        new("--regularizer", "one of hs, l1, l2", Default: "hs"),
        new("--encoding", "one of compact, sparse, dense", Default: "compact"),
        new("--int8", "", IsFlag: true),
        new("--quantize", "one of none, weights, full (full: int8 weights and activations, run by ONNX Runtime's int8 kernels)"),
        new("--no-shrink", "", IsFlag: true),
        new("--keep-dense", "comma-separated layer names or glob patterns (e.g. conv1,fc*) of the chosen architecture"),
        new("--threads", $"a number of threads from 1 to {Environment.ProcessorCount} (this machine's processor count)"),
        new("--no-flip", "", IsFlag: true),
        new("--bf16", "", IsFlag: true),
        new("--plain", "", IsFlag: true),
        ImageCheck.MaxPixelsOption,
    };

    public static string Usage => UsageText + ImageCheck.MaxPixelsUsage + ProfileTable();

    private static string ProfileTable() => "profiles:\n" + string.Concat(Profile.All.Select(p => string.Create(CultureInfo.InvariantCulture,
        $"  {p.Name,-9} batch {p.BatchSize}, LR {p.LearningRate}, warm-up {p.WarmupEpochs}, ART λ {p.LambdaInit:0.##e+0}·{p.LambdaGrowth}^e ≤ {p.MaxArtEpochs}, fine-tune {p.FineTuneEpochs} (LR ×0.1 at {string.Join(", ", p.LearningRateSteps)}), crop pad {p.CropPadding}\n")));

    private const string UsageText = """
        hypersparse train --data <dir> --out <dir> [options]

          --data <dir>           class subfolders of images (dir/<class>/*.png), or an IDX folder
                                 (train-/t10k-images-idx3-ubyte[.gz] + labels, e.g. /usr/share/datasets/fashion-mnist)
          --out <dir>            where model.zip, model.onnx, report.md/.json, *.png plots and Consume.cs go
          --sparsity <κ>         fraction of weights set to zero, in (0, 1)                      [0.9]
          --min-weights-per-layer <N>  every layer keeps at least N weights, total still κ;
                                 guards against layer collapse at very high κ (e.g. 0.998)   [0]
          --arch <name>          lenet5 | resnet20 | resnet32 | vgg19 | mlp | resnet18 | resnet34  [lenet5]
          --image-size <N>       images are resized to N×N      [28 for lenet5/mlp, 64 for resnet18/34, else 32]
          --profile <name>       quick | standard | paper | transfer (schedules: see README)
                                                                     [quick; transfer with --pretrained]
          --pretrained <src>     start from pretrained weights instead of random ones: imagenet (ML.NET's ImageNet
                                 ResNet-18, from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18) or a file
                                 of a torchvision-layout ResNet-18/34: .onnx (torch.onnx.export, or a model.onnx this
                                 tool wrote with --encoding dense) or a PyTorch state_dict (torch.save). The network,
                                 its input preprocessing and its backbone come from the source; a new classifier is
                                 trained for your classes (a head stage with the backbone frozen replaces the warm-up)
          --keep-classifier      with --pretrained <file>: keep the file's classifier (same classes, same order)
          --batch-norm frozen|train  batch norm's running statistics: kept (frozen) or re-estimated while training
                                 (train); a pretrained start's head stage always keeps them               [train]
          --time-budget <d>      train in this much time, e.g. 20m (units s, m, h; 1h30m): the profile then gives
                                 batch size, LR and augmentation, and the schedule (warm-up, λ_init and η, ART cap,
                                 fine-tune and its LR steps) is planned from measured epoch times so that ART's stop
                                 rule gets its chance; --warmup/--max-art/--finetune/--lambda-* given are kept
          --resume               continue from <out>/checkpoints (same command otherwise)
          --seed <N>             seed for splits, initialisation, shuffling, augmentation           [42]
          --limit <N>            use at most N images (IDX: the first N of each split)
          --channels auto|1|3    grayscale or colour; auto inspects the images                      [auto]
          --holdout <f>          image folders: fraction of each class held out for evaluation       [0.1]
          --class-names <s>      IDX only: auto | fashion | digits                                  [auto]
        schedule overrides (default: the profile's):
          --warmup <N>  --max-art <N>  --finetune <N>  --batch-size <N>  --lr <x>
          --lambda-init <x>  --lambda-growth <x>  --crop-padding <N>
        other:
          --method art|oneshot   --regularizer hs|l1|l2   --encoding compact|sparse|dense
          --quantize none|weights|full  weights: as --int8; full: int8 weights and uint8 activations calibrated on 256
                                 training images, which ONNX Runtime runs with int8 kernels (QLinearConv/QLinearAdd)
          --int8                 store weights as int8 (per output channel; ≈4× smaller values, lossy: the report
                                 gives the accuracy change measured on the holdout/test images)
          --no-shrink            keep dead channels in the ONNX model (by default filters pruned to all zeros, and
                                 channels nothing reads, are removed and their constant folded into the next layer's
                                 bias: same scores, smaller file, less compute; report.md lists what each layer lost)
          --keep-dense <names>   layers kept dense (not pruned; κ applies to the rest): comma-separated names or
                                 glob patterns, e.g. conv1,fc* (quote patterns in a shell); lenet5 has conv1, conv2,
                                 fc1, fc2, fc3; a name matching no layer lists the architecture's layers
          --threads <N>          --no-flip (no random horizontal flips)   --plain (no live progress bars)
          --bf16                 bfloat16 mixed precision: faster on CPUs with AVX512-BF16/AMX, float32 weights,
                                 batch norm and export; its accuracy effect is measured, not proven neutral (README)

        """;

    private static readonly Dictionary<string, HyperSparseArchitecture> Architectures = new()
    {
        ["lenet5"] = HyperSparseArchitecture.LeNet5,
        ["resnet20"] = HyperSparseArchitecture.ResNet20,
        ["resnet32"] = HyperSparseArchitecture.ResNet32,
        ["vgg19"] = HyperSparseArchitecture.Vgg19,
        ["mlp"] = HyperSparseArchitecture.Mlp,
        ["resnet18"] = HyperSparseArchitecture.ResNet18,
        ["resnet34"] = HyperSparseArchitecture.ResNet34,
        // Only through --pretrained imagenet: ML.NET's ResNet-18 (blocks [2, 2, 2, 3]) is its weights' network.
        ["resnet18mlnet"] = HyperSparseArchitecture.ResNet18MLNet,
    };

    /// <summary>Everything the command line says, checked: the first step of <see cref="Run"/> (parse → options → train → write).</summary>
    private sealed class Arguments
    {
        public required string DataPath { get; init; }
        public required string OutDir { get; init; }
        public required double Sparsity { get; init; }
        public required int MinWeightsPerLayer { get; init; }
        public required string ArchName { get; init; }
        /// <summary>--batch-norm frozen|train, or null for the library's default.</summary>
        public string? BatchNorm { get; init; }
        /// <summary>--pretrained (with --keep-classifier), or null.</summary>
        public HyperSparsePretrained? Pretrained { get; init; }
        public HyperSparseArchitecture Architecture => Architectures[ArchName];
        public required int ImageSize { get; init; }
        public required Profile Profile { get; init; }
        public TimeSpan? TimeBudget { get; init; }
        public required bool Resume { get; init; }
        public required int Seed { get; init; }
        public int? Limit { get; init; }
        public required string Channels { get; init; }
        public required double Holdout { get; init; }
        public required string ClassNames { get; init; }
        public int? Warmup { get; init; }
        public int? MaxArt { get; init; }
        public int? FineTune { get; init; }
        public int? BatchSize { get; init; }
        public double? LearningRate { get; init; }
        public double? LambdaInit { get; init; }
        public double? LambdaGrowth { get; init; }
        public int? CropPadding { get; init; }
        public required string Method { get; init; }
        public required string Regularizer { get; init; }
        public required string Encoding { get; init; }
        public int? Threads { get; init; }
        public required string[] KeepDense { get; init; }
        public required bool Int8 { get; init; }
        /// <summary>--quantize none|weights|full, or null (then --int8 decides).</summary>
        public string? Quantize { get; init; }
        public required bool Shrink { get; init; }
        public required bool Flip { get; init; }
        public required bool BFloat16 { get; init; }
        public required bool Live { get; init; }
        public required long MaxPixels { get; init; }

        /// <summary>Schedule options given on the command line (names as in the trainer's options).</summary>
        public List<string> ScheduleOverrides()
        {
            var given = new List<string>();
            if (Warmup is not null) given.Add("WarmupEpochs");
            if (MaxArt is not null) given.Add("MaxArtEpochs");
            if (LambdaInit is not null) given.Add("LambdaInit");
            if (LambdaGrowth is not null) given.Add("LambdaGrowth");
            if (FineTune is not null) given.AddRange(new[] { "FineTuneEpochs", "LearningRateSteps" });
            return given;
        }
    }

    /// <summary>--pretrained imagenet | file, with --keep-classifier; the file must exist (its content is checked when training starts).</summary>
    private static HyperSparsePretrained? PretrainedSource(CommandLine line)
    {
        var keep = line.Flag("--keep-classifier");
        if (line.Text("--pretrained") is not { } value)
        {
            if (keep) throw line.Invalid("--keep-classifier", "it without --pretrained", "--keep-classifier only together with --pretrained <file>");
            return null;
        }
        if (value == "imagenet")
        {
            if (keep) throw line.Invalid("--keep-classifier", "it with --pretrained imagenet", "--pretrained <file>: ML.NET's ResNet-18 has no classifier to keep");
            return HyperSparsePretrained.ImageNetResNet18();
        }
        if (Directory.Exists(value))
            throw line.Invalid("--pretrained", $"'{value}', which is a folder", "imagenet or a .onnx / PyTorch state_dict file");
        if (!File.Exists(value))
            throw line.Invalid("--pretrained", $"'{value}', which does not exist", "imagenet or a .onnx / PyTorch state_dict file");
        return HyperSparsePretrained.FromFile(value, keep);
    }

    /// <summary>--quantize, which must not contradict --int8 (weights-only int8).</summary>
    private static string? Quantize(CommandLine line)
    {
        var value = line.Choice("--quantize", "none", "weights", "full");
        if (value == "none" && line.Flag("--int8"))
            throw line.Invalid("--quantize", "'none' together with --int8", "weights or full with --int8 (or leave out --int8)");
        return value;
    }

    /// <summary>Parses and checks every option before anything slow happens.</summary>
    private static Arguments Parse(CliContext cli, IReadOnlyList<string> args)
    {
        var line = CommandLine.Parse(Name, args, Options);
        var pretrained = PretrainedSource(line);
        // With --pretrained the weights decide the network: --arch may only name the same one (checked again once the file is read).
        var archName = pretrained is null || line.Has("--arch") ? line.Choice("--arch", Architectures.Keys.ToArray())!
            : pretrained.IsMLNetResNet18 ? "resnet18mlnet" : "resnet18";
        if (pretrained is not null && line.Has("--arch") && !(archName is "resnet18" or "resnet34"))
            throw line.Invalid("--arch", $"'{archName}' with --pretrained", "resnet18 or resnet34 (an ImageNet ResNet), or no --arch: the pretrained weights decide the network");
        if (pretrained is { IsMLNetResNet18: true } && line.Has("--arch"))
            throw line.Invalid("--arch", $"'{archName}' with --pretrained imagenet", "no --arch: ML.NET's ResNet-18 has its own network (blocks [2, 2, 2, 3])");
        var architecture = Architectures[archName];
        var imageNetResNet = architecture is HyperSparseArchitecture.ResNet18 or HyperSparseArchitecture.ResNet34 or HyperSparseArchitecture.ResNet18MLNet;
        // ResNet-18/34 halve the image five times (the engine's ImageNetResNet.MinimumImageSize); 64 px is their CPU default.
        var minSize = architecture switch { HyperSparseArchitecture.LeNet5 => 12, HyperSparseArchitecture.Vgg19 => 16, _ when imageNetResNet => 32, _ => 8 };
        var imageSize = line.Int("--image-size", v => v >= minSize && v <= 512)
            ?? (architecture is HyperSparseArchitecture.LeNet5 or HyperSparseArchitecture.Mlp ? 28 : imageNetResNet ? 64 : 32);
        var cropPadding = line.Int("--crop-padding", v => v >= 0);
        // Every random crop must keep at least half of the image: a padding of more than half its side can crop blank squares.
        if (cropPadding > imageSize / 2)
            throw line.Invalid("--crop-padding", $"'{cropPadding}' for {imageSize}×{imageSize} images",
                $"a number of pixels from 0 to {imageSize / 2} (half the image side, --image-size {imageSize})");
        return new Arguments
        {
            DataPath = line.RequiredText("--data"),
            OutDir = line.RequiredText("--out"),
            Sparsity = line.Double("--sparsity", v => v > 0 && v < 1)!.Value,
            MinWeightsPerLayer = line.Int("--min-weights-per-layer", v => v >= 0)!.Value,
            ArchName = archName,
            ImageSize = imageSize,
            Profile = Profile.Named(pretrained is not null && !line.Has("--profile") ? Profile.Transfer.Name : line.Choice("--profile", Profile.All.Select(p => p.Name).ToArray())!),
            Pretrained = pretrained,
            BatchNorm = line.Choice("--batch-norm", "frozen", "train"),
            TimeBudget = line.Duration("--time-budget"),
            Resume = line.Flag("--resume"),
            Seed = line.Int("--seed", v => v >= 0)!.Value,
            Limit = line.Int("--limit", v => v > 0),
            Channels = line.Choice("--channels", "auto", "1", "3")!,
            Holdout = line.Double("--holdout", v => v >= 0 && v <= 0.5)!.Value,
            ClassNames = line.Choice("--class-names", "auto", "fashion", "digits")!,
            Warmup = line.Int("--warmup", v => v >= 0),
            MaxArt = line.Int("--max-art", v => v >= 1),
            FineTune = line.Int("--finetune", v => v >= 0),
            BatchSize = line.Int("--batch-size", v => v > 0),
            LearningRate = line.Double("--lr", v => v > 0),
            LambdaInit = line.Double("--lambda-init", v => v > 0),
            LambdaGrowth = line.Double("--lambda-growth", v => v >= 1),
            CropPadding = cropPadding,
            Method = line.Choice("--method", "art", "oneshot")!,
            Regularizer = line.Choice("--regularizer", "hs", "l1", "l2")!,
            Encoding = line.Choice("--encoding", "compact", "sparse", "dense")!,
            Threads = line.Int("--threads", v => v > 0 && v <= Environment.ProcessorCount),
            KeepDense = KeepDense(line),
            Int8 = line.Flag("--int8"),
            Quantize = Quantize(line),
            Shrink = !line.Flag("--no-shrink"),
            Flip = !line.Flag("--no-flip"),
            BFloat16 = line.Flag("--bf16"),
            Live = !line.Flag("--plain") && cli.Interactive,
            MaxPixels = ImageCheck.MaxPixels(line),
        };
    }

    /// <summary>
    /// The trainer's options: the profile, then the overrides; checked by the trainer now, before any image is read.
    /// </summary>
    private static HyperSparseClassificationTrainer.Options BuildOptions(Arguments a, string checkpoints)
    {
        var options = new HyperSparseClassificationTrainer.Options
        {
            Architecture = a.Architecture,
            PruningRate = a.Sparsity,
            MinWeightsPerLayer = a.MinWeightsPerLayer,
            Seed = a.Seed,
            HorizontalFlip = a.Flip,
            UseBFloat16 = a.BFloat16,
            NumberOfThreads = a.Threads,
            Method = a.Method == "oneshot" ? HyperSparsePruningMethod.OneShotMagnitude : HyperSparsePruningMethod.AdaptiveRegularizedTraining,
            Regularizer = a.Regularizer switch { "l1" => HyperSparseRegularizerKind.L1, "l2" => HyperSparseRegularizerKind.L2, _ => HyperSparseRegularizerKind.HyperSparse },
            WeightEncoding = a.Encoding switch { "sparse" => HyperSparseWeightEncoding.SparseInitializer, "dense" => HyperSparseWeightEncoding.Dense, _ => HyperSparseWeightEncoding.Compact },
            KeepDenseLayers = a.KeepDense,
            QuantizeWeights = a.Int8,
            Quantization = a.Quantize switch { "full" => HyperSparseQuantization.Full, "weights" => HyperSparseQuantization.WeightsOnly, _ => HyperSparseQuantization.None },
            ShrinkDeadChannels = a.Shrink,
            CheckpointFolder = checkpoints,
            Resume = a.Resume,
            Pretrained = a.Pretrained,
            FreezeBatchNormStatistics = a.BatchNorm is null ? null : a.BatchNorm == "frozen",
        };
        // With a time budget the profile's epochs and λ schedule are left to the planner; the overrides below are kept exactly.
        a.Profile.ApplyTo(options, timeBudget: a.TimeBudget is not null);
        options.TimeBudget = a.TimeBudget;
        if (a.Warmup is { } w) options.WarmupEpochs = w;
        if (a.MaxArt is { } m) options.MaxArtEpochs = m;
        if (a.FineTune is { } f)
        {
            options.FineTuneEpochs = f;
            options.LearningRateSteps = f >= 4 ? new[] { f / 2, f * 3 / 4 } : Array.Empty<int>();
        }
        if (a.BatchSize is { } b) options.BatchSize = b;
        if (a.LearningRate is { } lr) options.LearningRate = lr;
        if (a.LambdaInit is { } li) options.LambdaInit = li;
        if (a.LambdaGrowth is { } lg) options.LambdaGrowth = lg;
        if (a.CropPadding is { } cp) options.CropPadding = cp;
        try
        {
            _ = new MLContext().MulticlassClassification.Trainers.HyperSparseClassification(options);
        }
        catch (ArgumentException ex) when (ex.ParamName == nameof(options.KeepDenseLayers))
        {
            // The trainer's message names the entry and lists every layer of the architecture; say it in the tool's terms.
            var message = ex.Message.Split(" (Parameter")[0].Replace($"Option '{nameof(options.KeepDenseLayers)}': ", "", StringComparison.Ordinal);
            throw new UsageException($"{Name}: option --keep-dense: {message}");
        }
        catch (ArgumentException ex)
        {
            throw new UsageException($"{Name}: the schedule is invalid ({ex.Message.Split(" (Parameter")[0]}) Check the profile overrides (--warmup, --max-art, --finetune, --batch-size, --lr, --lambda-init, --lambda-growth, --time-budget).");
        }
        return options;
    }

    public static int Run(CliContext cli, IReadOnlyList<string> args)
    {
        var started = DateTimeOffset.Now;
        var wall = Stopwatch.StartNew();
        // ---- parse → options (all checked before anything slow happens) ----
        var a = Parse(cli, args);
        var outFull = Path.GetFullPath(a.OutDir);
        if (File.Exists(outFull))
            throw new UsageException($"{Name}: option --out: expected a folder, found '{a.OutDir}', which is a file.");
        var checkpoints = Path.Combine(outFull, "checkpoints");
        var options = BuildOptions(a, checkpoints);
        var scheduleOverrides = a.ScheduleOverrides();

        // ---- data ----
        var ml = new MLContext(a.Seed);
        var console = cli.Out;
        var idx = IdxFolder.TryOpen(a.DataPath);
        if (idx is null && File.Exists(a.DataPath))
            throw new UsageException($"{Name}: option --data: expected a folder of class subfolders of images or an IDX folder, found '{a.DataPath}', which is a file.");
        // Compared as real paths (every symlink resolved): an --out reached through a link into a class folder is inside too.
        var dataReal = HyperSparse.Imaging.FileKind.RealPath(a.DataPath).TrimEnd(Path.DirectorySeparatorChar);
        var outReal = HyperSparse.Imaging.FileKind.RealPath(a.OutDir);
        if (idx is null && (outReal + Path.DirectorySeparatorChar).StartsWith(dataReal + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new UsageException($"{Name}: option --out: expected a folder outside --data (it would become a class folder), found '{a.OutDir}' inside '{a.DataPath}'" +
                (outReal != Path.GetFullPath(a.OutDir) ? $" (it resolves to '{outReal}')" : "") + ".");
        var data = idx is not null
            ? TrainingData.FromIdx(ml, Name, idx, a.Limit, a.ClassNames == "auto" ? idx.GuessClassNames() : a.ClassNames, a.Holdout, a.Seed)
            : TrainingData.FromFolder(ml, Name, "--data", a.DataPath, a.Limit, a.Holdout, a.Seed, a.MaxPixels, cli.Cancellation);
        var channels = a.Channels == "auto" ? (data.Grayscale ? 1 : 3) : int.Parse(a.Channels, CultureInfo.InvariantCulture);

        var commandLine = "hypersparse " + string.Join(' ', new[] { Name }.Concat(args).Select(QuoteArg));
        // One run at a time per --out (held until this method returns; released by the kernel if the process dies).
        using var outputLock = OutputLock.Acquire(Name, "--out", outFull, commandLine);
        // A process killed while writing an output leaves its temporary file (the outputs themselves are never partial).
        var leftovers = AtomicFile.RemoveLeftovers(new OutputFiles(outFull).All);
        if (leftovers > 0) console.MarkupLine($"[grey]Removed {leftovers} temporary file(s) of an interrupted earlier run.[/]");
        if (!a.Resume) ClearCheckpoints(checkpoints, console);

        var summary = new RunSummary
        {
            CommandLine = commandLine,
            Started = started,
            DataKind = data.Kind,
            DataPath = data.SourcePath,
            ClassNames = data.ClassNames,
            TrainImages = data.TrainCount,
            EvaluationImages = data.EvaluationCount,
            EvaluationSet = data.EvaluationDescription,
            DataNotes = data.Notes,
            Channels = channels,
            ImageSize = a.ImageSize,
            Architecture = a.ArchName,
            Sparsity = a.Sparsity,
            Profile = a.Profile,
            Options = options,
            Seed = a.Seed,
            Resumed = a.Resume,
            ScheduleOverrides = scheduleOverrides,
        };
        PrintHeader(console, summary);

        // ---- the ML.NET pipeline ----
        var keyData = Views.ClassNames(ml, data.ClassNames);
        IEstimator<ITransformer> featurize = ml.Transforms.Conversion.MapValueToKey("Label", Views.LabelText, keyData: keyData);
        if (!data.InMemory) featurize = featurize.Append(ml.Transforms.LoadImages(Views.Image, imageFolder: null, Views.ImagePath));
        featurize = featurize.Append(ml.Transforms.ResizeImages(Views.Image, a.ImageSize, a.ImageSize));
        // A one-channel model reads luminance, in training and (the step is saved in model.zip) in scoring: a colour image
        // scored by it is converted, not cut down to its red channel. Grayscale images (R = G = B) keep their values.
        if (channels == 1) featurize = featurize.Append(ml.Transforms.ConvertToGrayscale(Views.Image));
        featurize = featurize
            .Append(ml.Transforms.ExtractPixels("Features", Views.Image,
                channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb));
        if (data.Evaluation is not null)
            options.ValidationSet = featurize.Fit(data.Train).Transform(data.Evaluation);
        // Progress as data (the trainer's log lines are for people and are not read here).
        var monitor = new TrainingMonitor(options.WarmupEpochs ?? HyperSparseDefaults.WarmupEpochs, options.MaxArtEpochs ?? HyperSparseDefaults.MaxArtEpochs,
            options.FineTuneEpochs ?? HyperSparseDefaults.FineTuneEpochs,
            options.Method == HyperSparsePruningMethod.OneShotMagnitude);
        options.Progress = monitor;
        // Ctrl+C / SIGTERM: the trainer stops within one mini-batch and keeps its last per-epoch checkpoint.
        options.CancellationToken = cli.Cancellation;
        // Last: the trainer keeps a copy of the options as they are now.
        var pipeline = featurize.Append(ml.MulticlassClassification.Trainers.HyperSparseClassification(options));

        TransformerChain<HyperSparseClassificationTransformer> model;
        var fitWatch = Stopwatch.StartNew();
        try
        {
            cli.Cancellation.ThrowIfCancellationRequested();
            model = ProgressView.Run(console, a.Live, monitor, () => pipeline.Fit(data.Train));
        }
        catch (Exception ex) when (cli.Cancellation.IsCancellationRequested)
        {
            return Cancelled(cli, checkpoints, monitor, ex);
        }
        catch (ArgumentOutOfRangeException ex) when (ex.ParamName == nameof(options.PruningRate))
        {
            // Only known once the network exists: κ that keeps no weight of this architecture at this input size.
            throw new UsageException($"{Name}: option --sparsity: {ex.Message.Split(" (Parameter")[0]}");
        }
        catch (HyperSparseTrainingDivergedException ex)
        {
            // Nothing is written: the outputs come after Fit, and the diverged epoch wrote no checkpoint.
            cli.Error.WriteLine($"train: {ex.Message} (On the command line: LearningRate is --lr, LambdaInit --lambda-init, LambdaGrowth --lambda-growth.) " +
                $"Nothing was written to '{outFull}'" +
                (Directory.Exists(checkpoints) && Directory.EnumerateFiles(checkpoints, "epoch-*.hsckpt").Any()
                    ? "; the checkpoints there are of the epochs before it (all finite), but --resume would repeat the same step: change the option named above."
                    : "."));
            return ExitCodes.Failure;
        }
        catch (ArgumentOutOfRangeException ex) when (ex.ParamName == nameof(options.MinWeightsPerLayer))
        {
            // Only known once the network exists: its layer sizes decide how many weights κ keeps.
            throw new UsageException($"{Name}: option --min-weights-per-layer: {ex.Message.Split(" (Parameter")[0]}");
        }
        catch (HyperSparseResumeMismatchException ex)
        {
            var differences = ex.Differences.Count == 0 ? "settings"
                : "settings: " + string.Join(", ", ex.Differences.Select(d => $"{d.Setting} {d.Saved} → {d.Current}"));
            throw new UsageException(
                $"{Name}: option --resume: expected the options and data of the run that wrote '{checkpoints}', found other {differences}. " +
                "Repeat that run's command with --resume, or drop --resume to start over.");
        }
        fitWatch.Stop();
        var hs = model.LastTransformer;

        // ---- outputs: model.zip (image path in), model.onnx ----
        console.MarkupLine("[grey]Writing model.zip, model.onnx and the report…[/]");
        // Written into a staging folder and moved in together at the end: a failure on the way leaves the previous set alone.
        using var outputs = OutputSet.Begin(outFull, out var staleStaging);
        if (staleStaging > 0) console.MarkupLine($"[grey]Removed {staleStaging} unfinished output folder(s) of an interrupted earlier run.[/]");
        var files = outputs.Files;
        // Ctrl+C from here on stops before the next file: each file is written whole (temporary file + rename) or not at all.
        void BeforeWriting(string file)
        {
            if (!cli.Cancellation.IsCancellationRequested) return;
            throw new OutputCancelledException(Path.GetFileName(file));
        }
        try
        {
            return WriteOutputs();
        }
        catch (OutputCancelledException ex)
        {
            cli.Error.WriteLine($"train: cancelled after training finished, before writing {ex.Next} (no output written yet: the outputs " +
                $"appear together or not at all, and '{outFull}' holds what it held before). Run the same command with --resume to write the outputs without training again.");
            return ExitCodes.Cancelled;
        }

        int WriteOutputs()
        {
            var pathView = ml.Data.LoadFromEnumerable(Array.Empty<ScoringInput>());
            var loader = ml.Transforms.LoadImages(Views.Image, imageFolder: null, Views.ImagePath).Fit(pathView);
            var scoring = new TransformerChain<ITransformer>(
                new ITransformer[] { loader }.Concat(Flatten(model).Where(t => t is ImageResizingTransformer or ImageGrayscalingTransformer or ImagePixelExtractingTransformer or HyperSparseClassificationTransformer)).ToArray());
            BeforeWriting(files.ModelZip);
            AtomicFile.Write(files.ModelZip, s => ml.Model.Save(scoring, pathView.Schema, s));
            BeforeWriting(files.ModelOnnx);
            AtomicFile.Write(files.ModelOnnx, hs.SaveOnnx);

            // ---- evaluation through the saved model.zip, as a user would load it ----
            Evaluation? evaluation = null;
            if (data.Evaluation is not null)
            {
                var saved = SavedModel.Load(Name, "--out", files.ModelZip);
                evaluation = EvaluateCommand.Evaluate(saved, data.Evaluation, data.InMemory);
            }

            summary.FitSeconds = fitWatch.Elapsed.TotalSeconds;
            summary.TotalSeconds = wall.Elapsed.TotalSeconds;
            summary.ScoringInput = Views.ImagePath;
            ReportWriter.WriteAll(files, summary, hs.Report, evaluation, BeforeWriting);
            BeforeWriting(OutputSet.ManifestName);
            var written = outputs.Commit(commandLine, started);
            summary.TotalSeconds = wall.Elapsed.TotalSeconds;

            // ---- summary ----
            console.WriteLine();
            var r = hs.Report;
            var artText = r.ArtEpochs > 0 ? string.Create(CultureInfo.InvariantCulture, $" after {r.ArtEpochs} epochs") : "";
            console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"Done in {ProgressView.Duration(wall.Elapsed)} (training {ProgressView.Duration(TimeSpan.FromSeconds(r.TotalSeconds))}). Sparsity {r.AchievedSparsity:P2}: {r.KeptWeights:N0} of {r.PrunableWeights:N0} weights kept. ART: {r.ArtStopReason}{artText}.")));
            if (evaluation is not null)
                console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"Accuracy on {data.EvaluationCount:N0} evaluation images: {evaluation.Accuracy:P2} ({data.EvaluationDescription.Split(';')[0]}).")));
            if (r.TimeBudget is { } budget)
                console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"Time budget {ProgressView.Duration(budget.Budget)}: training used {ProgressView.Duration(TimeSpan.FromSeconds(budget.UsedSeconds))} (warm-up {ProgressView.Duration(TimeSpan.FromSeconds(budget.WarmupSeconds))}, ART {ProgressView.Duration(TimeSpan.FromSeconds(budget.ArtSeconds))}, fine-tune {ProgressView.Duration(TimeSpan.FromSeconds(budget.FineTuneSeconds))}); {(budget.StopRuleFired ? "ART's stop rule fired" : budget.CapForcedPrune ? "the ART cap forced the prune" : "no ART")}; {budget.Decisions.Count} planning decisions in report.md.")));
            foreach (var note in r.Notes) console.MarkupLine("[yellow]" + Markup.Escape(note) + "[/]");
            var table = new Table().Border(TableBorder.Simple).AddColumns("file", "bytes");
            foreach (var file in written.Append(outputs.Manifest))
                table.AddRow(Markup.Escape(Display(file)), new FileInfo(file).Length.ToString("N0", CultureInfo.InvariantCulture));
            table.Columns[1].RightAligned();
            console.Write(table);
            return 0;
        }
    }

    /// <summary>Ctrl+C between two output files.</summary>
    private sealed class OutputCancelledException(string next) : OperationCanceledException
    {
        public string Next { get; } = next;
    }

    /// <summary>--keep-dense a,b,c: the entries, trimmed; an empty entry is a usage error (matching is the trainer's).</summary>
    private static string[] KeepDense(CommandLine line)
    {
        var text = line.Text("--keep-dense");
        if (text is null) return Array.Empty<string>();
        var entries = text.Split(',').Select(e => e.Trim()).ToArray();
        if (entries.Any(e => e.Length == 0))
            throw line.Invalid("--keep-dense", $"'{text}', which has an empty entry");
        return entries;
    }

    /// <summary>The transformers of a (possibly nested) chain in order: Append on an IEstimator nests chains.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { transformer };

    private static int Cancelled(CliContext cli, string checkpoints, TrainingMonitor monitor, Exception ex)
    {
        var latest = Directory.Exists(checkpoints)
            ? Directory.EnumerateFiles(checkpoints, "epoch-*.hsckpt").Order(StringComparer.Ordinal).LastOrDefault()
            : null;
        var done = monitor.Epochs.Count;
        cli.Error.WriteLine(latest is not null
            ? $"train: cancelled after {done} finished epoch(s); checkpoint '{latest}' is on disk. Run the same command with --resume to continue."
            : $"train: cancelled before the first epoch finished ({ex.GetType().Name}); no checkpoint exists yet, so --resume will start over.");
        return ExitCodes.Cancelled;
    }

    /// <summary>A fresh run must not leave older checkpoints behind: resume picks the highest epoch number.</summary>
    private static void ClearCheckpoints(string folder, IAnsiConsole console)
    {
        if (!Directory.Exists(folder)) return;
        var old = Directory.EnumerateFiles(folder, "epoch-*.hsckpt").ToList();
        foreach (var file in old) File.Delete(file);
        if (old.Count > 0) console.MarkupLine($"[grey]Removed {old.Count} checkpoint(s) of an earlier run (use --resume to continue one).[/]");
    }

    private static void PrintHeader(IAnsiConsole console, RunSummary s)
    {
        var o = s.Options;
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string k, string v) => grid.AddRow("[grey]" + Markup.Escape(k) + "[/]", Markup.Escape(v));
        Row("data", $"{s.DataPath} ({s.DataKind}, {s.ClassNames.Length} classes: {string.Join(", ", s.ClassNames.Take(12))}{(s.ClassNames.Length > 12 ? ", …" : "")})");
        Row("train images", s.TrainImages.ToString("N0", CultureInfo.InvariantCulture));
        Row("evaluation", s.EvaluationSet);
        Row("model", string.Create(CultureInfo.InvariantCulture, $"{s.Architecture}, {s.Channels}×{s.ImageSize}×{s.ImageSize} input, κ = {s.Sparsity}"));
        if (o.TimeBudget is { } budget)
        {
            var kept = BudgetKept(o, s.ScheduleOverrides);
            Row("profile", string.Create(CultureInfo.InvariantCulture,
                $"{s.Profile.Name}: batch {o.BatchSize}, LR {o.LearningRate}; time budget {ProgressView.Duration(budget)}: warm-up, λ_init and η, ART cap and fine-tune are planned from measured epoch times{(kept.Length == 0 ? "" : "; kept as given: " + kept)}"));
        }
        else
            Row("profile", string.Create(CultureInfo.InvariantCulture,
                $"{s.Profile.Name}: warm-up {o.WarmupEpochs}, ART ≤ {o.MaxArtEpochs} (λ {o.LambdaInit:G3} × {o.LambdaGrowth}^e), fine-tune {o.FineTuneEpochs}{LrSteps(o)}, batch {o.BatchSize}, LR {o.LearningRate}"));
        foreach (var n in s.DataNotes) Row("note", n);
        if (o.KeepDenseLayers.Length > 0) Row("kept dense", string.Join(", ", o.KeepDenseLayers) + " (excluded from pruning; κ applies to the other layers)");
        if (s.Resumed) Row("resume", "from the newest checkpoint in <out>/checkpoints (if any)");
        console.Write(grid);
        console.WriteLine();
    }

    /// <summary>A path relative to the current folder when it is inside it, else absolute.</summary>
    private static string Display(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    /// <summary>The schedule overrides given with --time-budget (kept exactly by the planner), e.g. "warm-up 5, η 1.3".</summary>
    internal static string BudgetKept(HyperSparseClassificationTrainer.Options o, IReadOnlyCollection<string> given)
    {
        var parts = new List<string>();
        if (given.Contains("WarmupEpochs")) parts.Add(string.Create(CultureInfo.InvariantCulture, $"warm-up {o.WarmupEpochs}"));
        if (given.Contains("MaxArtEpochs")) parts.Add(string.Create(CultureInfo.InvariantCulture, $"ART ≤ {o.MaxArtEpochs}"));
        if (given.Contains("LambdaInit")) parts.Add(string.Create(CultureInfo.InvariantCulture, $"λ_init {o.LambdaInit:G3}"));
        if (given.Contains("LambdaGrowth")) parts.Add(string.Create(CultureInfo.InvariantCulture, $"η {o.LambdaGrowth}"));
        if (given.Contains("FineTuneEpochs")) parts.Add(string.Create(CultureInfo.InvariantCulture, $"fine-tune {o.FineTuneEpochs}{LrSteps(o)}"));
        return string.Join(", ", parts);
    }

    private static string LrSteps(HyperSparseClassificationTrainer.Options o) => (o.LearningRateSteps ?? HyperSparseDefaults.LearningRateSteps) is not { Count: > 0 } steps ? "" :
        string.Create(CultureInfo.InvariantCulture, $" (LR ×{o.LearningRateDecay} at {string.Join(", ", steps)})");

    private static string QuoteArg(string a) => a.Length > 0 && a.All(c => !char.IsWhiteSpace(c) && c != '"' && c != '\'') ? a : "'" + a.Replace("'", "'\\''") + "'";
}

/// <summary>Input row of the saved model: one image file.</summary>
public sealed class ScoringInput
{
    /// <summary>Path of the image to score.</summary>
    public string ImagePath { get; set; } = "";
}
