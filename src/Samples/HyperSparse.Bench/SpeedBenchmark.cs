using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.HyperSparse.Network;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace HyperSparse.Bench;

/// <summary>One file of a <see cref="SpeedRow"/>: its bytes, its accuracy on the test split and its ONNX Runtime latency per thread count.</summary>
internal sealed record SpeedFile(string Name, long Bytes, double TestAccuracy, int ChangedPredictions, SpeedTiming[] Timings);

/// <summary>Median ms of one file at batch 1 and 32 with a fixed intra-op thread count.</summary>
internal sealed record SpeedTiming(int Threads, double Batch1Ms, double Batch32Ms);

/// <summary>
/// One `speed` row: four ONNX files of one trained κ model (dense float, Compact float, int8 weights only, full int8), each
/// scored on the whole test split and timed in ONNX Runtime at batch 1 and 32, on 1 and 2 intra-op threads.
/// </summary>
internal sealed record SpeedRow(
    string Arch, double Kappa, string ModelKey, int TestImages, int CalibrationImages, int Conv, int QLinearConv, int FloatConvLeft,
    int Add, int QLinearAdd, string[] FloatLayers, SpeedFile[] Files, int Rounds, string Machine, string OrtVersion,
    string StartedUtc, string FinishedUtc, string LoadStart, string LoadEnd, string Revision, string Command)
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public SpeedFile File(string name) => Files.First(f => f.Name == name);
}

/// <summary>
/// `speed` (issue #22): does full int8 make the trained model cheaper to run? For one cached trained model
/// (<see cref="BenchModels"/>: LeNet-5, ResNet-20, ResNet-32 from scratch; ML.NET's ResNet-18 from ImageNet weights), four
/// files of the same weights: <c>dense float</c> (every weight stored, no dead-channel shrink: what ONNX Runtime computes for an
/// unpruned network of this shape), <c>Compact float</c> (what Fit ships), <c>int8 weights</c> (weights only, folded back to
/// float at load) and <c>int8 full</c> (calibrated uint8 activations, ONNX Runtime's int8 kernels). Each is scored on every test
/// image (accuracy, and how many predictions differ from dense float), then timed at batch 1 and 32 with 1 and 2 intra-op
/// threads, files in rotation within a round so load drift hits them alike; a figure is the median over rounds of the mean
/// of a few back-to-back runs.
/// </summary>
internal static class SpeedBenchmark
{
    public const string DenseFloat = "dense float", CompactFloat = "Compact float", Int8Weights = "int8 weights", Int8Full = "int8 full";

    public static int Run(Args args)
    {
        var train = TrainConfig.FromArgs(args);
        var quick = args.GetOnOff("quick", false);
        var results = args.Get("results") ?? throw new ArgumentException("speed needs --results FILE.");
        var models = args.Get("models", BenchModels.DefaultDirectory);
        var revision = args.Get("revision", "unknown");
        var command = args.Get("command", "(not given)");
        var testImages = args.GetInt("test-images", quick ? 500 : 10_000, 1);
        var rounds = args.GetInt("rounds", quick ? 3 : 15, 1);
        var calibrationImages = args.GetInt("calibration", Microsoft.ML.HyperSparse.HyperSparseDefaults.CalibrationImages, 1);
        var threadCounts = (Args.ParseInts(args.Get("threads-list"), "threads-list") ?? [1, 2]).Where(t => t <= Environment.ProcessorCount).ToArray();
        var force = args.GetOnOff("force", false);
        args.EnsureAllUsed();

        var existing = RowFile.Read<SpeedRow>(results, SpeedRow.Json);
        if (!force && existing.FirstOrDefault(r => r.Arch == train.Arch && r.Kappa == train.Kappa && r.ModelKey == train.Key && r.TestImages == testImages) is { } cached)
        {
            Console.WriteLine($"speed: cached: {Describe(cached)}");
            return 0;
        }

        var started = Machine.UtcNow();
        var loadStart = Machine.LoadAverage();
        var (trainData, test) = BenchModels.DataFor(train, testImages);
        // The trainer logs test accuracy per epoch on the first 500 test images only (scoring all 10,000 every epoch would double
        // the ResNet-18's training time); the row's accuracies below use every test image.
        using var trained = BenchModels.GetOrTrain(train, models, retrain: false, revision, trainData, test.Slice(0, Math.Min(500, test.Count)));
        NetworkDescription net = BenchModels.Describe(trained);

        // Calibration: training images spread evenly over the set, picked by Fit's own code (raw pixels, the graph's input).
        var calibration = Microsoft.ML.HyperSparse.HyperSparseClassificationTrainer.CalibrationPixels(trainData, calibrationImages);
        var common = new OnnxExportOptions { LogitsOutputName = Ort.LogitsOutput };
        var files = new (string Name, OnnxExportOptions Options)[]
        {
            (DenseFloat, common with { WeightEncoding = OnnxWeightEncoding.Dense, ShrinkDeadChannels = false }),
            (CompactFloat, common),
            (Int8Weights, common with { Quantization = OnnxQuantization.WeightsOnly }),
            (Int8Full, common with { Quantization = OnnxQuantization.Full, CalibrationPixels = calibration }),
        };
        var exports = files.Select(f => OnnxModelWriter.Write(net, f.Options)).ToArray();
        var full = exports[^1].Calibration ?? throw new InvalidOperationException("the full int8 export reported no calibration.");

        // Accuracy of each file on every test image (2 threads: only the predictions matter here).
        var predictions = exports.Select(e => SizeBenchmark.ArgMax(Ort.Logits(e.Bytes, net, test, threads: 2), test.ClassCount)).ToArray();
        int Changed(int[] p) => p.Where((label, i) => label != predictions[0][i]).Count();

        // Latency: the first images of the test split (raw pixels, as the graph takes them).
        float[] batch1 = test.Pixels.AsSpan(0, test.ImageSize).ToArray();
        float[] batch32 = test.Pixels.AsSpan(0, 32 * test.ImageSize).ToArray();
        var timings = files.Select(_ => new List<SpeedTiming>()).ToArray();
        foreach (var threads in threadCounts)
        {
            var times = Int8LatencyBenchmark.Time(exports.Select(e => e.Bytes).ToArray(), net, threads, batch1, batch32, rounds,
                repeats1: quick ? 3 : 10, repeats32: quick ? 1 : 2, warmup: 3);
            for (var f = 0; f < files.Length; f++) timings[f].Add(new SpeedTiming(threads, Round(times[f].B1), Round(times[f].B32)));
        }

        var ops = OrtOptimizedGraph.OpTypes(exports[^1].Bytes);
        int Count(string op) => ops.Count(o => o == op);
        var row = new SpeedRow(train.Arch, train.Kappa, train.Key, test.Count, full.ImageCount,
            net.Nodes.Count(n => n is Conv2dNode), Count("QLinearConv"), Count("Conv") + Count("FusedConv"),
            net.Nodes.Count(n => n is AddNode), Count("QLinearAdd"), full.FloatLayers.ToArray(),
            files.Select((f, i) => new SpeedFile(f.Name, exports[i].Bytes.LongLength, Math.Round(SizeBenchmark.Accuracy(predictions[i], test.Labels), 2), Changed(predictions[i]),
                timings[i].ToArray())).ToArray(),
            rounds, Machine.Describe(), OrtEnv.Instance().GetVersionString(), started, Machine.UtcNow(), loadStart, Machine.LoadAverage(),
            revision, command);
        RowFile.Replace(results, row, r => r.Arch == row.Arch && r.Kappa == row.Kappa, r => Defaults.Order(r.Arch) * 10 + r.Kappa, SpeedRow.Json);
        Console.WriteLine($"speed: {Describe(row)}");
        return 0;
    }

    private static double Round(double v) => Math.Round(v, 4);

    public static string Describe(SpeedRow r)
    {
        var dense = r.File(DenseFloat);
        var full = r.File(Int8Full);
        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{r.Arch} κ={r.Kappa}: accuracy dense {dense.TestAccuracy:F2} % / int8 full {full.TestAccuracy:F2} % on {r.TestImages:N0}; {r.QLinearConv}/{r.Conv} Conv → QLinearConv"));
        foreach (var t in full.Timings)
        {
            var d = dense.Timings.First(x => x.Threads == t.Threads);
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"; {t.Threads} thread(s): b1 {d.Batch1Ms / t.Batch1Ms:F2}×, b32 {d.Batch32Ms / t.Batch32Ms:F2}×"));
        }
        return sb.ToString();
    }

    /// <summary>The section of docs/benchmarks.md: one table of every file, then the targets of issue #22 computed from the rows.</summary>
    public static void Render(StringBuilder md, IReadOnlyList<SpeedRow> rows)
    {
        if (rows.Count == 0) return;
        md.AppendLine("## Scoring speed: float vs int8 (issue #22)");
        md.AppendLine();
        md.AppendLine("Written by `build/bench.sh speed` (rows in `benchmarks-speed.jsonl`). Four ONNX files of one trained model each: " +
                      "**dense float** (every weight stored, no dead-channel shrink: the compute of an unpruned network of that shape, since ONNX Runtime " +
                      "runs unstructured zeros densely), **Compact float** (what Fit ships), **int8 weights** (weights only, folded back to float at load) and " +
                      "**int8 full** (`Quantization = Full`: int8 weights, uint8 activations calibrated on training images spread over the set, ONNX Runtime's " +
                      "QLinearConv/QLinearAdd kernels). Accuracy: every image of the Fashion-MNIST t10k split, scored by ONNX Runtime; \"changed\" counts " +
                      "predictions that differ from dense float. Latency: ONNX Runtime CPU, fixed intra-op threads, files in rotation within each round; median " +
                      "over rounds of the mean of back-to-back runs. The models are the benchmark's short-schedule trainings (artifacts/bench-models): LeNet-5, " +
                      "ResNet-20 and ResNet-32 from scratch on 28×28; ML.NET's ImageNet ResNet-18 fine-tuned from its pretrained weights on 1,000 images upscaled " +
                      "to 64×64 (transfer profile).");
        md.AppendLine();
        md.AppendLine($"- Machine: {string.Join("; ", rows.Select(r => r.Machine).Distinct())}");
        md.AppendLine();
        var threadCounts = rows.SelectMany(r => r.Files.SelectMany(f => f.Timings.Select(t => t.Threads))).Distinct().Order().ToArray();
        var header = new StringBuilder("| network | κ | file | bytes | t10k accuracy | changed vs dense |");
        var rule = new StringBuilder("|---|---:|---|---:|---:|---:|");
        foreach (var t in threadCounts)
        {
            header.Append(CultureInfo.InvariantCulture, $" b1 ms ({t}t) | b32 ms ({t}t) | speed-up b1 / b32 ({t}t) |");
            rule.Append("---:|---:|---:|");
        }
        md.AppendLine(header.ToString());
        md.AppendLine(rule.ToString());
        foreach (var r in rows)
        {
            var dense = r.File(DenseFloat);
            foreach (var f in r.Files)
            {
                var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Arch} | {r.Kappa} | {f.Name} | {f.Bytes:N0} | {f.TestAccuracy:F2} % | {f.ChangedPredictions:N0} |"));
                foreach (var t in threadCounts)
                {
                    var mine = f.Timings.FirstOrDefault(x => x.Threads == t);
                    var reference = dense.Timings.FirstOrDefault(x => x.Threads == t);
                    if (mine is null || reference is null) { line.Append(" – | – | – |"); continue; }
                    line.Append(string.Create(CultureInfo.InvariantCulture,
                        $" {mine.Batch1Ms:F3} | {mine.Batch32Ms:F2} | {reference.Batch1Ms / mine.Batch1Ms:F2}× / {reference.Batch32Ms / mine.Batch32Ms:F2}× |"));
                }
                md.AppendLine(line.ToString());
            }
        }
        md.AppendLine();
        md.AppendLine("ONNX Runtime's optimised int8 graph (saved through `SessionOptions.OptimizedModelFilePath`, extended level):");
        md.AppendLine();
        foreach (var r in rows)
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"- {r.Arch}: {r.QLinearConv} of {r.Conv} Conv run as QLinearConv ({r.FloatConvLeft} float Conv left), {r.QLinearAdd} of {r.Add} residual Add as QLinearAdd; " +
                $"{r.CalibrationImages} calibration images; in float: {(r.FloatLayers.Length == 0 ? "nothing" : string.Join(", ", r.FloatLayers))}. " +
                $"Measured {r.StartedUtc} – {r.FinishedUtc}, load {r.LoadStart} → {r.LoadEnd}, {r.Rounds} rounds, ONNX Runtime {r.OrtVersion}, revision {r.Revision}."));
        md.AppendLine();
        md.AppendLine("Targets of issue #22 (1 intra-op thread; ResNet-20, ResNet-32 and ResNet-18 judged, LeNet-5 stated):");
        md.AppendLine();
        md.AppendLine("| network | full int8 vs dense float, batch 32 (target ≥ 2.5×) | batch 1 (target ≥ 2×) | accuracy change (target within 0.5 pp) |");
        md.AppendLine("|---|---|---|---|");
        foreach (var r in rows)
        {
            var dense = r.File(DenseFloat);
            var full = r.File(Int8Full);
            var d1 = dense.Timings.FirstOrDefault(t => t.Threads == 1);
            var f1 = full.Timings.FirstOrDefault(t => t.Threads == 1);
            if (d1 is null || f1 is null) continue;
            var judged = r.Arch != "LeNet-5";
            string Verdict(bool met) => judged ? (met ? "**met**" : "**missed**") : "(stated)";
            double s32 = d1.Batch32Ms / f1.Batch32Ms, s1 = d1.Batch1Ms / f1.Batch1Ms, change = full.TestAccuracy - dense.TestAccuracy;
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Arch} | {Verdict(s32 >= 2.5)} {s32:F2}× ({d1.Batch32Ms:F2} → {f1.Batch32Ms:F2} ms) | {Verdict(s1 >= 2)} {s1:F2}× ({d1.Batch1Ms:F3} → {f1.Batch1Ms:F3} ms) | " +
                $"{Verdict(Math.Abs(change) <= 0.5)} {change:+0.00;-0.00;0.00} pp ({dense.TestAccuracy:F2} → {full.TestAccuracy:F2} %) |"));
        }
        md.AppendLine();
    }
}
