using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.HyperSparse.Network;

namespace HyperSparse.Bench;

/// <summary>Everything that decides a `size` row's numbers: the trained model's config and the test slice.</summary>
internal sealed record SizeConfig(TrainConfig Train, int TestImages)
{
    public bool SameAs(SizeConfig other) => Train.SameAs(other.Train) && TestImages == other.TestImages;
}

/// <summary>One written file of a row: its size, its deflated size and where its bytes go.</summary>
/// <remarks><see cref="ZipBytes"/>: the ML.NET model.zip of the file's scoring chain (0 in rows measured before it existed).</remarks>
internal sealed record FileSize(string Encoding, long Bytes, long DeflatedBytes, FileAnatomy Anatomy)
{
    public long ZipBytes { get; init; }
}

/// <summary>One conv or linear weight: what each encoding spent on it (OnnxSizeReport's per-layer figures).</summary>
internal sealed record SizeLayer(
    string Name, string Op, long[] Shape, bool Prunable, long Parameters, long Kept,
    string CompactEncoding, long CompactBytes, string Int8Encoding, long Int8Bytes, string SparseEncoding, long SparseBytes, long DenseBytes,
    double MaskEntropyBytes);

/// <summary>One `size` row: the trained model, the four files, the bound and the ONNX Runtime checks.</summary>
internal sealed record SizeRow(
    SizeConfig Config, TrainedModelInfo Training,
    string MeasuredUtc, string LoadStart, string LoadEnd, string Revision, string Command, string Machine, int OrtThreads, double MeasureSeconds,
    long PrunableWeights, long KeptWeights, long NonPrunableWeights, long OtherParameters,
    FileSize Dense, FileSize SparseInitializer, FileSize Compact, FileSize CompactInt8,
    double BoundBytes, double MaskEntropyBytes, double LayerwiseMaskEntropyBytes,
    double TorchAccuracy, double OrtDenseAccuracy, double OrtCompactAccuracy, double OrtInt8Accuracy,
    double MaxAbsLogitDenseVsCompact, double MaxAbsLogitDenseVsSparse, double MaxAbsLogitTorchVsOrtDense,
    double MaxAbsLogitInt8VsCompact, int Int8Disagreements,
    SizeLayer[] Layers, string[] Notes,
    int FullTestImages = 0, double OrtCompactAccuracyFull = double.NaN, double OrtInt8AccuracyFull = double.NaN, int Int8DisagreementsFull = 0,
    FileSize? CompactUnshrunk = null, long ChannelsTrained = 0, long ChannelsShipped = 0, double MaxAbsLogitDenseVsCompactUnshrunk = double.NaN)
{
    public double Sparsity => 1 - (double)KeptWeights / PrunableWeights;

    /// <summary>The encoder against the bound: the Compact file of the trained network (rows before the shrink: Compact itself).</summary>
    public double CompactOverBound => (CompactUnshrunk ?? Compact).Bytes / BoundBytes;
    public double DenseOverCompact => (double)Dense.Bytes / Compact.Bytes;
    public double DenseOverInt8 => (double)Dense.Bytes / CompactInt8.Bytes;
    public double Int8DeltaPp => OrtInt8Accuracy - OrtCompactAccuracy;
    public double Int8DeltaPpFull => OrtInt8AccuracyFull - OrtCompactAccuracyFull;
}

/// <summary>
/// `size`: one (architecture, κ) row. Takes the trained model from the cache (<see cref="BenchModels"/>) or trains it,
/// writes it as Dense, SparseInitializer, Compact and Compact+int8 ONNX, measures each file and its deflated size, and
/// scores the test slice with every file in ONNX Runtime. The row replaces the one of the same (architecture, κ) in --results.
/// </summary>
internal static class SizeBenchmark
{
    public static int Run(Args args)
    {
        var train = TrainConfig.FromArgs(args);
        var quick = args.GetOnOff("quick", false);
        var config = new SizeConfig(train, args.GetInt("test", quick ? 200 : Defaults.TestImages(train.Architecture), 10));
        var results = args.Get("results") ?? throw new ArgumentException("size needs --results FILE (the row cache).");
        var reexport = args.GetOnOff("reexport", false);
        var retrain = args.GetOnOff("retrain", false);
        var models = args.Get("models", BenchModels.DefaultDirectory);
        var revision = args.Get("revision", "unknown");
        var command = args.Get("command", "(not given)");
        var ortThreads = args.GetInt("ort-threads", 2, 1);
        var onnxDir = args.Get("onnx-dir");
        var fullTest = args.GetOnOff("full-test", !quick);
        args.EnsureAllUsed();

        var cached = RowFile.Read<SizeRow>(results).LastOrDefault(r => r.Config.SameAs(config));
        if (cached is not null && !reexport && !retrain)
        {
            Console.WriteLine("size: row already measured (--reexport on re-measures it from the cached model, --retrain on retrains)");
            Console.WriteLine(Format(cached));
            return 0;
        }

        var clock = Stopwatch.StartNew();
        var (trainData, test) = BenchModels.Data(train.TrainImages, config.TestImages);
        using var model = BenchModels.GetOrTrain(train, models, retrain, revision, trainData, test);
        var loadStart = Machine.LoadAverage();
        var measuredUtc = Machine.UtcNow();
        var row = Measure(config, model, test, ortThreads, onnxDir, fullTest) with
        {
            MeasuredUtc = measuredUtc, LoadStart = loadStart, LoadEnd = Machine.LoadAverage(), Revision = revision, Command = command,
            MeasureSeconds = clock.Elapsed.TotalSeconds - (model.Trained ? model.Info.Epochs.Sum(e => e.Seconds) : 0),
        };
        RowFile.Replace(results, row, r => r.Config.Train.Arch == train.Arch && r.Config.Train.Kappa == train.Kappa,
            r => (Defaults.Order(r.Config.Train.Arch) * 10) + r.Config.Train.Kappa);
        Console.WriteLine(Format(row));
        return 0;
    }

    internal static string Format(SizeRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Config.Train.Arch,-9} κ={r.Config.Train.Kappa:0.###} kept {r.KeptWeights:N0}/{r.PrunableWeights:N0} ({r.Sparsity:P2}) | " +
        $"dense {r.Dense.Bytes:N0} B, sparse-init {r.SparseInitializer.Bytes:N0} B, compact {r.Compact.Bytes:N0} B, compact+int8 {r.CompactInt8.Bytes:N0} B | " +
        $"bound {r.BoundBytes:N0} B, compact/bound {r.CompactOverBound:F3}, dense/compact {r.DenseOverCompact:F1}, dense/int8 {r.DenseOverInt8:F1} | " +
        $"acc torch {r.TorchAccuracy:F2} ORT compact {r.OrtCompactAccuracy:F2} int8 {r.OrtInt8Accuracy:F2} (Δ {r.Int8DeltaPp:+0.00;-0.00;0.00} pp; " +
        $"full t10k {r.OrtCompactAccuracyFull:F2} → {r.OrtInt8AccuracyFull:F2}, Δ {r.Int8DeltaPpFull:+0.00;-0.00;0.00} pp) | " +
        $"max|Δlogit| dense vs compact {r.MaxAbsLogitDenseVsCompact:G3}, vs sparse-init {r.MaxAbsLogitDenseVsSparse:G3}");

    private static SizeRow Measure(SizeConfig config, TrainedModel trained, ImageDataset test, int ortThreads, string? onnxDir, bool fullTest)
    {
        var description = BenchModels.Describe(trained);
        OnnxExportResult Export(OnnxWeightEncoding encoding, bool int8, bool shrink = true) =>
            OnnxModelWriter.Write(description, new OnnxExportOptions
            {
                WeightEncoding = encoding, QuantizeWeights = int8, ShrinkDeadChannels = shrink, LogitsOutputName = Ort.LogitsOutput,
            });
        // Dense is the reference: the trained network as plain float32, every channel. The other files are what Fit ships
        // (dead channels removed); Compact without the shrink measures the encoder against the bound of the same weights.
        var dense = Export(OnnxWeightEncoding.Dense, false, shrink: false);
        var compactUnshrunk = Export(OnnxWeightEncoding.Compact, false, shrink: false);
        var sparse = Export(OnnxWeightEncoding.SparseInitializer, false);
        var compact = Export(OnnxWeightEncoding.Compact, false);
        var int8 = Export(OnnxWeightEncoding.Compact, true);
        if (onnxDir is not null)
        {
            Directory.CreateDirectory(onnxDir);
            var stem = Path.Combine(onnxDir, string.Create(CultureInfo.InvariantCulture, $"{config.Train.Arch.ToLowerInvariant()}-k{config.Train.Kappa}"));
            File.WriteAllBytes(stem + ".dense.onnx", dense.Bytes);
            File.WriteAllBytes(stem + ".sparse.onnx", sparse.Bytes);
            File.WriteAllBytes(stem + ".compact.onnx", compact.Bytes);
            File.WriteAllBytes(stem + ".compact-noshrink.onnx", compactUnshrunk.Bytes);
            File.WriteAllBytes(stem + ".compact-int8.onnx", int8.Bytes);
        }

        var torchLogits = BenchModels.TorchLogits(trained.Model, test, trained.Info.Normalization);
        var denseLogits = Ort.Logits(dense.Bytes, description, test, ortThreads);
        var sparseLogits = Ort.Logits(sparse.Bytes, description, test, ortThreads);
        var compactLogits = Ort.Logits(compact.Bytes, description, test, ortThreads);
        var unshrunkLogits = Ort.Logits(compactUnshrunk.Bytes, description, test, ortThreads);
        var int8Logits = Ort.Logits(int8.Bytes, description, test, ortThreads);
        var classes = test.ClassCount;

        // Shapes, kept counts and the bound are the trained network's (before the exporter's dead-channel shrink, which the
        // files have); bytes are the files'.
        var layers = compact.Size.Layers;
        var prunable = layers.Where(l => l.Prunable).ToList();
        long n = prunable.Sum(l => l.OriginalParameterCount), kept = prunable.Sum(l => l.OriginalKeptCount);
        var sizeLayers = layers.Select((l, i) => new SizeLayer(
            l.Name, l.OpType, l.OriginalShape, l.Prunable, l.OriginalParameterCount, l.OriginalKeptCount,
            l.Encoding.ToString(), l.WeightBytes, int8.Size.Layers[i].Encoding.ToString(), int8.Size.Layers[i].WeightBytes,
            sparse.Size.Layers[i].Encoding.ToString(), sparse.Size.Layers[i].WeightBytes, dense.Size.Layers[i].WeightBytes,
            l.OriginalParameterCount * OnnxSizeReport.BinaryEntropy((double)l.OriginalKeptCount / l.OriginalParameterCount) / 8)).ToArray();

        var notes = new List<string>(trained.Info.Notes);
        if (trained.Info.KeptWeights != kept)
            notes.Add($"kept weights after batch-norm folding ({kept}) differ from the trainer's mask ({trained.Info.KeptWeights}).");
        var int8Predictions = ArgMax(int8Logits, classes);
        var compactPredictions = ArgMax(compactLogits, classes);

        // The int8 accuracy change is a few images on the test slice (0.1 pp per image at 1,000), so it is also measured on
        // the whole official test split in ONNX Runtime (the model never saw those images: it was trained on the train split).
        var (fullCount, fullCompact, fullInt8, fullDisagree) = (0, double.NaN, double.NaN, 0);
        if (fullTest)
        {
            var all = BenchModels.FullTest();
            var compactAll = ArgMax(Ort.Logits(compact.Bytes, description, all, ortThreads), classes);
            var int8All = ArgMax(Ort.Logits(int8.Bytes, description, all, ortThreads), classes);
            (fullCount, fullCompact, fullInt8, fullDisagree) = (all.Count, Accuracy(compactAll, all.Labels), Accuracy(int8All, all.Labels),
                compactAll.Zip(int8All).Count(p => p.First != p.Second));
        }

        return new SizeRow(
            config, trained.Info, "", "", "", "", "", Machine.Describe(), ortThreads, 0,
            n, kept, layers.Where(l => !l.Prunable).Sum(l => l.OriginalParameterCount), compact.Size.OriginalOtherParameterCount,
            Measured(dense, "Dense", description), Measured(sparse, "SparseInitializer", description), Measured(compact, "Compact", description),
            Measured(int8, "Compact+int8", description),
            compact.Size.BoundBytes, n * OnnxSizeReport.BinaryEntropy((double)kept / n) / 8, sizeLayers.Where(l => l.Prunable).Sum(l => l.MaskEntropyBytes),
            Accuracy(ArgMax(torchLogits, classes), test.Labels), Accuracy(ArgMax(denseLogits, classes), test.Labels),
            Accuracy(compactPredictions, test.Labels), Accuracy(int8Predictions, test.Labels),
            MaxAbsDiff(denseLogits, compactLogits), MaxAbsDiff(denseLogits, sparseLogits), MaxAbsDiff(torchLogits, denseLogits),
            MaxAbsDiff(compactLogits, int8Logits), int8Predictions.Zip(compactPredictions).Count(p => p.First != p.Second),
            sizeLayers, notes.ToArray(), fullCount, fullCompact, fullInt8, fullDisagree,
            new FileSize("Compact (no shrink)", compactUnshrunk.Bytes.LongLength, Deflated(compactUnshrunk.Bytes), FileAnatomy.Of(compactUnshrunk.Bytes, compactUnshrunk.Size.Layers)),
            layers.Sum(l => l.OriginalShape[0]), layers.Sum(l => l.Shape[0]), MaxAbsDiff(denseLogits, unshrunkLogits));
    }

    private static FileSize Measured(OnnxExportResult result, string name, NetworkDescription net) =>
        new(name, result.Bytes.LongLength, Deflated(result.Bytes), FileAnatomy.Of(result.Bytes, result.Size.Layers)) { ZipBytes = ModelZipBytes(result.Bytes, net) };

    /// <summary>
    /// Bytes of the model.zip that <c>MLContext.Model.Save</c> writes for the scoring chain Fit returns over this ONNX file
    /// (ONNX transformer + ML.NET's multiclass scorer + the drop of the logits column), on a feature column of the network's
    /// input shape and a key-typed label with one key per class. A user's own pipeline steps (image loading, key mapping) add to it.
    /// </summary>
    internal static long ModelZipBytes(byte[] onnx, NetworkDescription net)
    {
        var ml = new MLContext(seed: 0);
        var definition = SchemaDefinition.Create(typeof(ZipInput));
        definition[nameof(ZipInput.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, net.Channels, net.Height, net.Width);
        definition[nameof(ZipInput.Features)].ColumnName = net.InputName;   // the ONNX transformer binds columns to graph inputs by name
        var rows = Enumerable.Range(0, net.ClassCount).Select(k => new ZipInput
        {
            Features = new float[net.Channels * net.Height * net.Width], LabelText = k.ToString(CultureInfo.InvariantCulture),
        });
        var raw = ml.Data.LoadFromEnumerable(rows, definition);
        var data = ml.Transforms.Conversion.MapValueToKey("Label", nameof(ZipInput.LabelText)).Fit(raw).Transform(raw);
        var chain = ScoringChain.Fit(ml, onnx, net.InputName, Ort.LogitsOutput, "Label", "Score", "PredictedLabel", net.ClassCount,
            Enumerable.Range(0, net.ClassCount).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray(), data);
        using var zip = new MemoryStream();
        ml.Model.Save(chain, data.Schema, zip);
        return zip.Length;
    }

    private sealed class ZipInput
    {
        public float[] Features { get; set; } = [];
        public string LabelText { get; set; } = "";
    }

    /// <summary>Bytes of <paramref name="bytes"/> after raw deflate at <see cref="CompressionLevel.Optimal"/> (what a zip entry holds).</summary>
    internal static long Deflated(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
            deflate.Write(bytes);
        return output.Length;
    }

    internal static int[] ArgMax(float[] logits, int classes)
    {
        var result = new int[logits.Length / classes];
        for (var i = 0; i < result.Length; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
            result[i] = best;
        }
        return result;
    }

    internal static double Accuracy(int[] predictions, int[] labels) =>
        100.0 * predictions.Zip(labels).Count(p => p.First == p.Second) / labels.Length;

    internal static double MaxAbsDiff(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new InvalidOperationException($"Output lengths differ: {a.Length} vs {b.Length}.");
        double max = 0;
        for (var i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}

/// <summary>Per-architecture constants of the rows that are not part of the training config.</summary>
internal static class Defaults
{
    /// <summary>Test images per row (the first of t10k): as many as scoring four files in ORT affords.</summary>
    public static int TestImages(Architecture arch) => arch switch
    {
        Architecture.LeNet5 => 2_000,
        Architecture.ResNet20 => 1_000,
        _ => 500,
    };

    /// <summary>Table order: LeNet-5, ResNet-20, ResNet-32.</summary>
    public static int Order(string arch) => arch switch { "LeNet-5" => 0, "ResNet-20" => 1, "ResNet-32" => 2, _ => 3 };
}

/// <summary>ONNX Runtime scoring with default session options and a fixed intra-op thread count.</summary>
internal static class Ort
{
    public const string LogitsOutput = "logits_out";

    public static SessionOptions Options(int threads) => new() { IntraOpNumThreads = threads };

    /// <summary>Logits of every image of <paramref name="data"/> (raw pixels in, as the graph expects), in batches of 250.</summary>
    public static float[] Logits(byte[] model, NetworkDescription net, ImageDataset data, int threads)
    {
        using var options = Options(threads);
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        var result = new float[data.Count * data.ClassCount];
        for (var start = 0; start < data.Count; start += 250)
        {
            var count = Math.Min(250, data.Count - start);
            var pixels = data.Pixels.AsMemory(start * data.ImageSize, count * data.ImageSize);
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels, [count, net.Channels, net.Height, net.Width]);
            using var outputs = session.Run(runOptions, [net.InputName], [input], [LogitsOutput]);
            outputs[0].GetTensorDataAsSpan<float>().CopyTo(result.AsSpan(start * data.ClassCount));
        }
        return result;
    }
}

/// <summary>Architecture names shared by the commands.</summary>
internal static class Architectures
{
    public static Architecture Parse(string s) => s.ToLowerInvariant() switch
    {
        "lenet5" or "lenet-5" => Architecture.LeNet5,
        "resnet20" or "resnet-20" => Architecture.ResNet20,
        "resnet32" or "resnet-32" => Architecture.ResNet32,
        "mlp" => Architecture.Mlp,
        "vgg19" or "vgg-19" => Architecture.Vgg19,
        "resnet18" or "resnet-18" => Architecture.ResNet18,
        "resnet34" or "resnet-34" => Architecture.ResNet34,
        "resnet18mlnet" => Architecture.ResNet18MLNet,
        _ => throw new ArgumentException($"Unknown --arch '{s}' (lenet5, resnet20, resnet32, mlp, vgg19, resnet18, resnet34, resnet18mlnet)."),
    };
}
