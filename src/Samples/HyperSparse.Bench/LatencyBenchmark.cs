using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace HyperSparse.Bench;

/// <summary>Timings of one file: session creation (read + parse + constant folding) and one Run per batch size, in ms.</summary>
/// <remarks>
/// Each Batch*Ms entry is the mean of <see cref="Batch1Repeats"/> / <see cref="Batch64Repeats"/> back-to-back calls (0 in rows
/// measured before repeats existed = 1 call). The TorchSharp row has no file: Bytes 0, no CreateMs.
/// </remarks>
internal sealed record FileLatency(string Encoding, long Bytes, double[] CreateMs, double[] Batch1Ms, double[] Batch64Ms)
{
    public int Batch1Repeats { get; init; }
    public int Batch64Repeats { get; init; }

    public double CreateMedian => Stats.Of(CreateMs).Median;
    public double Batch1Median => Stats.Of(Batch1Ms).Median;
    public double Batch64Median => Stats.Of(Batch64Ms).Median;
}

/// <summary>One `latency` row: the three files of one trained model, timed in one process, alternating files.</summary>
internal sealed record LatencyRow(
    string Arch, double Kappa, string ModelKey, string MeasuredUtc, string LoadStart, string LoadEnd, string Revision, string Command,
    string Machine, int OrtThreads, int WarmupRuns, FileLatency[] Files, double MaxAbsLogitDenseVsCompact64, string OrtVersion)
{
    /// <summary>Dense vs the shipped (shrunk) Compact file at batch 64; NaN in rows measured before the shrink existed.</summary>
    public double MaxAbsLogitDenseVsShrunk64 { get; init; } = double.NaN;

    /// <summary>A target by name; rows before the shrink had Dense, Compact (then unshrunk) and Compact+int8.</summary>
    public FileLatency? File(string name) => Files.FirstOrDefault(f => f.Encoding == name);

    /// <summary>The unshrunk Compact file: the encoder's cost at scoring time.</summary>
    public FileLatency EncoderFile => File(LatencyBenchmark.CompactUnshrunk) ?? Files[1];
}

/// <summary>
/// `latency`: ONNX Runtime (CPU, default session options but a fixed intra-op thread count) on the Dense, Compact and
/// Compact+int8 files of one cached model: session creation from the file path, then one Run at batch 1 and at batch 64.
/// Every measurement round times each file once, in an order rotated every round, so load changes on a shared machine hit
/// all files alike; the report gives medians and their ratios to Dense.
/// </summary>
internal static class LatencyBenchmark
{
    /// <summary>Name of the row that times the trained TorchSharp module (eval mode, no_grad) instead of an ONNX file.</summary>
    public const string TorchSharpEval = "TorchSharp eval";

    /// <summary>Name of the Compact file written without the dead-channel shrink.</summary>
    public const string CompactUnshrunk = "Compact (no shrink)";

    public static int Run(Args args)
    {
        var train = TrainConfig.FromArgs(args);
        var quick = args.GetOnOff("quick", false);
        var results = args.Get("results") ?? throw new ArgumentException("latency needs --results FILE.");
        var models = args.Get("models", BenchModels.DefaultDirectory);
        var revision = args.Get("revision", "unknown");
        var command = args.Get("command", "(not given)");
        var threads = args.GetInt("ort-threads", 2, 1);
        var runs1 = args.GetInt("runs-1", quick ? 5 : 40, 1);
        var runs64 = args.GetInt("runs-64", quick ? 3 : 20, 1);
        var creations = args.GetInt("creations", quick ? 2 : 7, 1);
        var warmup = args.GetInt("warmup-runs", quick ? 1 : 5, 0);
        args.EnsureAllUsed();

        var (trainData, test) = BenchModels.Data(train.TrainImages, 64);
        using var trained = BenchModels.GetOrTrain(train, models, retrain: false, revision, trainData, test);
        var description = BenchModels.Describe(trained);
        var loadStart = Machine.LoadAverage();
        var measuredUtc = Machine.UtcNow();
        // Dense (every channel) is the reference; "Compact (no shrink)" is the same network's sparse file; Compact and
        // Compact+int8 are what Fit ships (dead channels removed).
        var encodings = new (string Name, OnnxWeightEncoding Encoding, bool Int8, bool Shrink)[]
        {
            ("Dense", OnnxWeightEncoding.Dense, false, false), (CompactUnshrunk, OnnxWeightEncoding.Compact, false, false),
            ("Compact", OnnxWeightEncoding.Compact, false, true), ("Compact+int8", OnnxWeightEncoding.Compact, true, true),
        };
        var directory = Directory.CreateTempSubdirectory("hs-bench-latency-");
        try
        {
            var paths = encodings.Select(e =>
            {
                var path = Path.Combine(directory.FullName, new string(e.Name.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray()) + ".onnx");
                OnnxModelWriter.WriteFile(description, new OnnxExportOptions
                {
                    WeightEncoding = e.Encoding, QuantizeWeights = e.Int8, ShrinkDeadChannels = e.Shrink, LogitsOutputName = Ort.LogitsOutput,
                }, path);
                return path;
            }).ToArray();
            var create = paths.Select(_ => new List<double>()).ToArray();

            // Session creation: one untimed creation each first (JIT, native library load), then rounds in rotated order.
            using (var options = Ort.Options(threads))
            {
                foreach (var path in paths) new InferenceSession(path, options).Dispose();
                for (var round = 0; round < creations; round++)
                    foreach (var f in Rotation(round, paths.Length))
                    {
                        var clock = Stopwatch.StartNew();
                        var session = new InferenceSession(paths[f], options);
                        clock.Stop();
                        session.Dispose();
                        create[f].Add(clock.Elapsed.TotalMilliseconds);
                    }
            }

            var sessionOptions = Ort.Options(threads);
            var sessions = paths.Select(p => new InferenceSession(p, sessionOptions)).ToArray();
            try
            {
                using var runOptions = new RunOptions();
                double maxDiff = 0, maxDiffShrunk = 0;
                // The ONNX files, then the trained TorchSharp module in eval mode (normalisation included, as in the graph).
                torch.set_num_threads(threads);
                var names = encodings.Select(e => e.Name).Append(TorchSharpEval).ToArray();
                var count = names.Length;
                var batch1 = Enumerable.Range(0, count).Select(_ => new List<double>()).ToArray();
                var batch64 = Enumerable.Range(0, count).Select(_ => new List<double>()).ToArray();
                var repeats = new int[2];
                foreach (var (b, batch, runs, times) in new[] { (0, 1, runs1, batch1), (1, 64, runs64, batch64) })
                {
                    var pixels = test.Pixels.AsMemory(0, batch * test.ImageSize);
                    using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels, [batch, description.Channels, description.Height, description.Width]);
                    string[] inputNames = [description.InputName], outputNames = [Ort.LogitsOutput];
                    OrtValue[] inputs = [input];
                    using var torchInput = torch.tensor(test.Pixels.AsSpan(0, batch * test.ImageSize).ToArray(), [batch, description.Channels, description.Height, description.Width]);
                    using var scale = torch.tensor(trained.Info.PixelScale);
                    using var mean = torch.tensor(trained.Info.Mean, [1, description.Channels, 1, 1]);
                    using var std = torch.tensor(trained.Info.Std, [1, description.Channels, 1, 1]);
                    if (batch == 64)
                    {
                        float[] Logits(int f)
                        {
                            using var outputs = sessions[f].Run(runOptions, inputNames, inputs, outputNames);
                            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
                        }
                        var dense = Logits(0);
                        maxDiff = SizeBenchmark.MaxAbsDiff(dense, Logits(1));
                        maxDiffShrunk = SizeBenchmark.MaxAbsDiff(dense, Logits(2));
                    }

                    void RunOnce(int f)
                    {
                        if (f < sessions.Length)
                        {
                            sessions[f].Run(runOptions, inputNames, inputs, outputNames).Dispose();
                            return;
                        }
                        using var scope = torch.NewDisposeScope();
                        using var _ = torch.no_grad();
                        trained.Model.call((torchInput * scale - mean) / std);
                    }

                    // Warm-up, and how many calls one timing spans: enough for ≈5 ms on the fastest target, so sub-millisecond
                    // runs are not timer and scheduler noise (the same count for every target of a batch size).
                    var fastest = double.MaxValue;
                    for (var f = 0; f < count; f++)
                        for (var w = 0; w < Math.Max(warmup, 1); w++)
                        {
                            var clock = Stopwatch.StartNew();
                            RunOnce(f);
                            fastest = Math.Min(fastest, clock.Elapsed.TotalMilliseconds);
                        }
                    repeats[b] = Math.Clamp((int)Math.Ceiling(5.0 / Math.Max(fastest, 1e-3)), 1, 1000);
                    // The ONNX files in rotation, then TorchSharp on its own: libtorch's OpenMP workers keep spinning after a
                    // call and would slow whichever ONNX Runtime session ran next on the two shared cores.
                    var onnxTargets = sessions.Length;
                    void Time(int f)
                    {
                        // Each session has its own intra-op thread pool, whose threads spin for a while after a Run: as many
                        // untimed calls first as are timed (at least 3), so the timing does not pay for the previous target's
                        // spinning threads on the shared cores (alternating single calls measured the same optimised graph
                        // up to 1.6× apart).
                        for (var i = 0; i < Math.Max(3, repeats[b]); i++) RunOnce(f);
                        var clock = Stopwatch.StartNew();
                        for (var i = 0; i < repeats[b]; i++) RunOnce(f);
                        clock.Stop();
                        times[f].Add(clock.Elapsed.TotalMilliseconds / repeats[b]);
                    }

                    for (var round = 0; round < runs; round++)
                        foreach (var f in Rotation(round, onnxTargets))
                            Time(f);
                    for (var round = 0; round < runs; round++)
                        Time(onnxTargets);
                }

                var files = names.Select((name, f) => new FileLatency(name, f < paths.Length ? new FileInfo(paths[f]).Length : 0,
                    f < paths.Length ? create[f].ToArray() : [], batch1[f].ToArray(), batch64[f].ToArray()) { Batch1Repeats = repeats[0], Batch64Repeats = repeats[1] }).ToArray();
                var row = new LatencyRow(train.Arch, train.Kappa, train.Key, measuredUtc, loadStart, Machine.LoadAverage(), revision, command,
                    Machine.Describe(), threads, warmup, files, maxDiff, OrtVersion()) { MaxAbsLogitDenseVsShrunk64 = maxDiffShrunk };
                RowFile.Replace(results, row, r => r.Arch == row.Arch && r.Kappa == row.Kappa, r => (Defaults.Order(r.Arch) * 10) + r.Kappa);
                foreach (var file in files)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"latency: {row.Arch} κ={row.Kappa} {file.Encoding,-14} {file.Bytes,10:N0} B  create {(file.CreateMs.Length == 0 ? double.NaN : file.CreateMedian),8:F1} ms  batch 1 {file.Batch1Median,7:F3} ms  batch 64 {file.Batch64Median,8:F2} ms"));
            }
            finally
            {
                foreach (var session in sessions) session.Dispose();
                sessionOptions.Dispose();
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
        return 0;
    }

    /// <summary>File order of one round: 0,1,2 then 1,2,0 then 2,0,1, …</summary>
    private static IEnumerable<int> Rotation(int round, int count) => Enumerable.Range(0, count).Select(i => (i + round) % count);

    private static string OrtVersion()
    {
        var version = typeof(InferenceSession).Assembly.GetName().Version;
        return version is null ? "unknown" : $"{version.Major}.{version.Minor}.{version.Build}";
    }
}
