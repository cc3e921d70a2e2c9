using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HyperSparse.Bench;

/// <summary>
/// One `step` process's result: its configuration, every measured step time and the process memory. build/torch_step.py
/// writes the same fields for the PyTorch peer (<see cref="Framework"/> "PyTorch …"), so the report pools both.
/// </summary>
internal sealed record StepRow(
    string Arch, string Input, int Classes, int Batch, bool Malloc, bool MallocApplied, bool Hs, int Threads,
    int Warmup, int Steps, long Parameters, long PrunableWeights, double[] StepMs, double[] HsMs,
    double RssMb, double PeakRssMb, double FinalLoss, string StartedUtc)
{
    /// <summary>The prefix of our rows' <see cref="Framework"/>; the peer's start with "PyTorch".</summary>
    public const string Ours = "HyperSparse engine";

    /// <summary>Who ran the step: ours ("HyperSparse engine (TorchSharp x)") or the peer ("PyTorch x"). Rows without it are ours.</summary>
    public string Framework { get; init; } = Ours;

    /// <summary>The benchmark round the process belonged to (-1 = none), so adjacent runs can be paired.</summary>
    public int Round { get; init; } = -1;

    /// <summary>Free text about the run's environment (the peer states its OMP/OpenBLAS thread settings).</summary>
    public string? Note { get; init; }

    /// <summary>
    /// The speed lever this run tried (<see cref="StepBenchmark.NoLever"/> = the framework's defaults): ours
    /// <c>channels-last</c>, <c>bf16</c>, <c>grad-none</c>; PyTorch <c>channels-last</c>, <c>bf16-autocast</c>.
    /// </summary>
    public string Lever { get; init; } = StepBenchmark.NoLever;

    public bool IsOurs => Framework.StartsWith(Ours, StringComparison.Ordinal);
}

/// <summary>
/// Times the engine's training step as ArtTrainer.RunEpoch does it: inside a dispose scope per step, forward,
/// cross-entropy, Sgd.ZeroGrad + backward, optionally HyperSparseRegularizer(0.9).AddToGradients(weights, 1e-5), then
/// Sgd.Step (momentum 0.9, weight decay 1e-4, the trainer's defaults), and the scope's disposal. Input is random data of the chosen shape,
/// generated before the clock starts (a pool of 4 batches used in turn).
/// </summary>
internal static class StepBenchmark
{
    /// <summary>The <see cref="StepRow.Lever"/> of a run with the framework's defaults.</summary>
    public const string NoLever = "none";

    /// <summary>
    /// Levers this step can try, each measured against <see cref="NoLever"/> in build/bench-step.sh. The default is the
    /// trainer's layout (<see cref="TrainingOptions.ChannelsLast"/>, NCHW unless set). <c>channels-last</c> puts convolution
    /// weights and multi-channel input in NHWC strides, <c>nchw</c> forces the contiguous NCHW layout;
    /// <c>bf16</c> is the trainer's bfloat16 mixed precision (<see cref="TrainingOptions.Precision"/>: a bfloat16 copy of the
    /// network computes, float32 master weights, optimiser and batch-norm statistics, the gradients copied back each step);
    /// <c>grad-none</c> drops the gradients instead of zeroing them (backward then
    /// writes them fresh, as PyTorch 2's <c>zero_grad(set_to_none=True)</c>).
    /// </summary>
    public static readonly string[] Levers = [NoLever, "channels-last", "nchw", "bf16", "grad-none"];

    private const int BatchPool = 4;
    private const double PruningRate = 0.9, Lambda = 1e-5, Momentum = 0.9, WeightDecay = 1e-4;

    public static int Run(Args args)
    {
        var arch = Architectures.Parse(args.Get("arch", "lenet5"));
        var input = ParseShape(args.Get("input") ?? arch switch
        {
            Architecture.Vgg19 => "3x32x32",
            Architecture.ResNet18 or Architecture.ResNet34 or Architecture.ResNet18MLNet => "3x64x64", // photo-scale: at least 32 px
            _ => "1x28x28",
        });
        var classes = args.GetInt("classes", 10, 2);
        var batch = args.GetInt("batch", 128, 1);
        var steps = args.GetInt("steps", 50, 1);
        var warmup = args.GetInt("warmup", 5, 0);
        var maxSeconds = args.GetDouble("max-seconds", double.PositiveInfinity);
        var malloc = args.GetOnOff("malloc", true);
        var hs = args.GetOnOff("hs", false);
        var threads = args.GetInt("threads", 2, 1);
        var lr = args.GetDouble("lr", 0.01);
        var seed = args.GetInt("seed", 1, 0);
        var round = args.GetInt("round", -1, -1);
        var raw = args.Get("raw");
        var lever = args.Get("lever", NoLever);
        if (!Levers.Contains(lever)) throw new ArgumentException($"--lever must be one of {string.Join(", ", Levers)}, got '{lever}'.");
        args.EnsureAllUsed();
        var bf16 = lever == "bf16";

        // Process start: load TorchSharp, then decide the allocator before any training allocation.
        TorchRuntime.EnsureLoaded();
        TorchRuntime.TuneAllocatorForTraining(malloc);
        if (malloc && !TorchRuntime.AllocatorTuned)
            Console.Error.WriteLine($"warning: malloc tuning requested but not applied ({TorchRuntime.MallocTuningVariable}=0 or not Linux)");
        torch.set_num_threads(threads);
        torch.random.manual_seed(seed);

        using var model = ModelFactory.Create(arch, input, classes);
        model.train();
        var weights = model.PrunableLayers().Select(l => (Tensor)l.Weight).ToList();
        // As ArtTrainer: channels-last weights before the optimiser exists (its momentum buffers follow them).
        var channelsLast = lever == "channels-last" || (lever != "nchw" && new TrainingOptions().ChannelsLast);
        if (channelsLast) model.SetChannelsLast(true);
        var parameterCount = model.parameters().Sum(p => p.numel());
        var prunableCount = weights.Sum(w => w.numel());
        using var sgd = new Sgd(model.parameters(), Momentum, WeightDecay);
        // As ArtTrainer: the bfloat16 copy is made after the layout is set and the optimiser exists.
        using var replica = bf16 ? new BFloat16Replica(model, arch, channelsLast) : null;
        if (replica?.Float32Note is { } float32Note) Console.Error.WriteLine(float32Note);
        replica?.Network.train();
        var regularizer = hs ? new HyperSparseRegularizer(PruningRate) : null;

        var images = new Tensor[BatchPool];
        var labels = new Tensor[BatchPool];
        for (var i = 0; i < BatchPool; i++)
        {
            images[i] = randn(batch, input.Channels, input.Height, input.Width);
            if (channelsLast && input.Channels > 1) images[i] = ImageClassifier.ToChannelsLast(images[i]);
            labels[i] = randint(0, classes, batch, dtype: ScalarType.Int64);
        }

        var stepMs = new List<double>(steps);
        var hsMs = new List<double>(steps);
        var finalLoss = double.NaN;
        var clock = new Stopwatch();
        var hsClock = new Stopwatch();
        var measuredSince = Stopwatch.StartNew();
        for (var s = 0; s < warmup + steps; s++)
        {
            if (s == warmup) measuredSince.Restart();
            clock.Restart();
            float loss;
            using (NewDisposeScope())
            {
                var logits = replica is null ? model.call(images[s % BatchPool]) : replica.Forward(images[s % BatchPool]);
                var ce = F.cross_entropy(logits, labels[s % BatchPool]);
                if (lever == "grad-none") foreach (var p in model.parameters()) p.grad = null;
                else sgd.ZeroGrad();
                replica?.ZeroGrad();
                ce.backward();
                replica?.CopyGradientsToMaster();
                if (regularizer is not null)
                {
                    hsClock.Restart();
                    regularizer.AddToGradients(weights, Lambda);
                    hsClock.Stop();
                }
                sgd.Step(lr);
                loss = ce.item<float>(); // the trainer reads it too; a scalar copy, microseconds
            } // freeing the step's tensors (glibc free/munmap) is part of the step
            clock.Stop();
            if (s >= warmup)
            {
                stepMs.Add(clock.Elapsed.TotalMilliseconds);
                if (regularizer is not null) hsMs.Add(hsClock.Elapsed.TotalMilliseconds);
                finalLoss = loss;
                if (measuredSince.Elapsed.TotalSeconds >= maxSeconds) break;
            }
        }
        var (rss, peak) = ProcessMemory();
        foreach (var t in images.Concat(labels)) t.Dispose();

        var row = new StepRow(ArchName(arch), $"{input.Channels}x{input.Height}x{input.Width}", classes, batch, malloc,
            TorchRuntime.AllocatorTuned, hs, torch.get_num_threads(), warmup, stepMs.Count, parameterCount, prunableCount,
            stepMs.Select(Round3).ToArray(), hsMs.Select(Round3).ToArray(), rss, peak, finalLoss,
            DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"))
        {
            Framework = $"{StepRow.Ours} (TorchSharp {typeof(torch).Assembly.GetName().Version?.ToString(3)})",
            Round = round,
            Lever = lever,
        };
        if (raw is not null) File.AppendAllText(raw, JsonSerializer.Serialize(row, StepReport.Json) + "\n");

        var st = Stats.Of(row.StepMs);
        var hsNote = hs ? $"  HS term {Stats.Of(row.HsMs).Median:F2} ms" : "";
        Console.WriteLine(
            $"{row.Arch,-8} {row.Input,-8} b{batch,-4} {(lever == NoLever ? "" : lever + " ")}malloc {(malloc ? "on " : "off")} hs {(hs ? "on " : "off")} | " +
            $"median {st.Median,8:F2} ms  p10 {st.P10,8:F2}  p90 {st.P90,8:F2}  n={row.Steps,-4} | RSS {rss,6:F0} MB (peak {peak:F0}) | " +
            $"params {parameterCount:N0} | loss {finalLoss:F3}{hsNote}");
        return double.IsFinite(finalLoss) ? 0 : 1;
    }

    private static double Round3(double v) => Math.Round(v, 3);

    /// <summary>VmRSS and VmHWM of this process from /proc/self/status, in MB (NaN where unavailable).</summary>
    internal static (double Rss, double Peak) ProcessMemory()
    {
        double rss = double.NaN, peak = double.NaN;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line) / 1024.0;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kb(line) / 1024.0;
            }
        }
        catch (IOException) { }
        return (rss, peak);

        static double Kb(string line) => double.Parse(line.Split(':')[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static string ArchName(Architecture a) => a switch
    {
        Architecture.LeNet5 => "LeNet-5",
        Architecture.ResNet20 => "ResNet-20",
        Architecture.ResNet32 => "ResNet-32",
        Architecture.Mlp => "MLP",
        Architecture.Vgg19 => "VGG-19",
        Architecture.ResNet18 => "ResNet-18",
        Architecture.ResNet34 => "ResNet-34",
        Architecture.ResNet18MLNet => "ResNet-18 (ML.NET's)",
        _ => a.ToString(),
    };

    private static ImageShape ParseShape(string s)
    {
        var parts = s.Split('x', '×');
        if (parts.Length == 3 && parts.All(p => int.TryParse(p, out var v) && v > 0))
            return new ImageShape(int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
        throw new ArgumentException($"--input must be CxHxW (e.g. 1x28x28 or 3x32x32), got '{s}'.");
    }
}

/// <summary>Median and 10th/90th percentiles, linear interpolation between order statistics.</summary>
internal readonly record struct Stats(double Median, double P10, double P90, int Count)
{
    public static Stats Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0) return new Stats(double.NaN, double.NaN, double.NaN, 0);
        var sorted = samples.OrderBy(v => v).ToArray();
        return new Stats(Percentile(sorted, 0.5), Percentile(sorted, 0.1), Percentile(sorted, 0.9), sorted.Length);
    }

    private static double Percentile(double[] sorted, double q)
    {
        var pos = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
