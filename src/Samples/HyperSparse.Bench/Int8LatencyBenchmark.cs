using System.Diagnostics;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Network;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace HyperSparse.Bench;

/// <summary>
/// `int8-latency`: ONNX Runtime scoring time of float vs full int8 (<see cref="OnnxQuantization.Full"/>) files of a CIFAR
/// ResNet-20 (3×32×32) and an ImageNet ResNet-18 at 64×64, random weights pruned to κ, at batch 1 and 32 with a fixed intra-op
/// thread count (1 by default: the stable series on a shared machine). Files are timed in rotation so load drift hits all
/// alike; each figure is the median over rounds of the mean of a few back-to-back runs. Random weights: a timing of the
/// kernels ORT picks, not an accuracy figure (the accuracy of full int8 is pinned in FullInt8ExportTests).
/// </summary>
internal static class Int8LatencyBenchmark
{
    public static int Run(Args args)
    {
        var threads = args.GetInt("threads", 1, 1);
        var rounds = args.GetInt("rounds", 15, 1);
        var repeats1 = args.GetInt("repeats-1", 10, 1);
        var repeats32 = args.GetInt("repeats-32", 2, 1);
        var warmup = args.GetInt("warmup-runs", 3, 0);
        var calibration = args.GetInt("calibration", 32, 1);
        var kappa = args.GetDouble("kappa", 0.98);
        var seed = args.GetInt("seed", 1, 0);
        args.EnsureAllUsed();
        if (kappa is < 0 or >= 1) throw new ArgumentException($"--kappa must be in [0, 1), got {kappa}.");

        Console.WriteLine($"int8-latency: ORT {OrtEnv.Instance().GetVersionString()}, {threads} intra-op thread(s), κ {kappa}, " +
                          $"{calibration} calibration images, {rounds} rounds, load {Machine.LoadAverage()}");
        Console.WriteLine("| network | file | bytes | batch 1 ms | batch 32 ms | float/int8 b1 | float/int8 b32 |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach ((string name, Architecture arch, ImageShape shape) in new[]
                 {
                     ("ResNet-20 32×32", Architecture.ResNet20, new ImageShape(3, 32, 32)),
                     ("ResNet-18 64×64", Architecture.ResNet18, new ImageShape(3, 64, 64)),
                 })
        {
            NetworkDescription net = Describe(arch, shape, kappa, seed);
            var random = new Random(seed + 1);
            float[] Pixels(int n) => Enumerable.Range(0, n * shape.Channels * shape.Height * shape.Width).Select(_ => (float)random.Next(256)).ToArray();
            var common = new OnnxExportOptions { LogitsOutputName = Ort.LogitsOutput };
            var files = new (string Name, OnnxExportOptions Options)[]
            {
                ("float Dense", common with { WeightEncoding = OnnxWeightEncoding.Dense }),
                ("float Compact", common),
                ("int8 weights only", common with { Quantization = OnnxQuantization.WeightsOnly }),
                ("int8 full", common with { Quantization = OnnxQuantization.Full, CalibrationPixels = Pixels(calibration) }),
            };
            var exports = files.Select(f => OnnxModelWriter.Write(net, f.Options)).ToArray();
            float[] batch1 = Pixels(1), batch32 = Pixels(32);
            var times = Time(exports.Select(e => e.Bytes).ToArray(), net, threads, batch1, batch32, rounds, repeats1, repeats32, warmup);
            for (int f = 0; f < files.Length; f++)
            {
                string ratio1 = f == files.Length - 1 ? $"{times[0].B1 / times[f].B1:F2}×" : "";
                string ratio32 = f == files.Length - 1 ? $"{times[0].B32 / times[f].B32:F2}×" : "";
                Console.WriteLine($"| {name} | {files[f].Name} | {exports[f].Bytes.LongLength:N0} | {times[f].B1:F3} | {times[f].B32:F2} | {ratio1} | {ratio32} |");
            }

            var full = exports[^1].Calibration!;
            List<string> ops = OrtOptimizedGraph.OpTypes(exports[^1].Bytes);
            int Count(string op) => ops.Count(o => o == op);
            Console.WriteLine($"<!-- {name}: {full.Tensors.Count} activations quantised on {full.ImageCount} images; float layers: " +
                              $"{string.Join(", ", full.FloatLayers)}; ORT's optimised int8 graph: {Count("QLinearConv")} QLinearConv of " +
                              $"{net.Nodes.Count(n => n is Conv2dNode)} Conv in the description ({Count("Conv")} float Conv left), " +
                              $"{Count("QLinearAdd")} QLinearAdd, {Count("Add")} float Add, {Count("Gemm") + Count("FusedGemm")} float Gemm, " +
                              $"{Count("QuantizeLinear")} QuantizeLinear, {Count("DequantizeLinear")} DequantizeLinear; " +
                              $"bound (float values) {exports[1].Size.BoundBytes:N0} B -->");
        }

        Console.WriteLine($"int8-latency: load at end {Machine.LoadAverage()}");
        return 0;
    }

    /// <summary>Random weights (the engine's initialisation) pruned to κ by global magnitude; ImageNet normalisation.</summary>
    private static NetworkDescription Describe(Architecture arch, ImageShape shape, double kappa, int seed)
    {
        torch.manual_seed(seed);
        using var model = ModelFactory.Create(arch, shape, 10);
        model.eval();
        if (kappa > 0)
            MagnitudePruning.Prune(model.PrunableLayers(), kappa).Dispose();
        return model.DescribeNetwork("image", new Normalization(1f / 255, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]));
    }

    /// <summary>Median over rounds (files in rotated order) of the mean of back-to-back runs, ms, per file and batch size.</summary>
    internal static (double B1, double B32)[] Time(byte[][] models, NetworkDescription net, int threads, float[] batch1, float[] batch32,
        int rounds, int repeats1, int repeats32, int warmup)
    {
        var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        var sessions = models.Select(m => new InferenceSession(m, options)).ToArray();
        using var runOptions = new RunOptions();
        using var input1 = OrtValue.CreateTensorValueFromMemory(batch1, [1, net.GraphInputChannels, net.Height, net.Width]);
        using var input32 = OrtValue.CreateTensorValueFromMemory(batch32, [32, net.GraphInputChannels, net.Height, net.Width]);
        double RunMean(InferenceSession session, OrtValue input, int repeats)
        {
            var clock = Stopwatch.StartNew();
            for (int r = 0; r < repeats; r++)
            {
                using var outputs = session.Run(runOptions, [net.InputName], [input], [Ort.LogitsOutput]);
            }

            return clock.Elapsed.TotalMilliseconds / repeats;
        }

        try
        {
            foreach (InferenceSession session in sessions)
            {
                RunMean(session, input1, Math.Max(warmup, 1));
                RunMean(session, input32, Math.Max(warmup, 1));
            }

            var b1 = sessions.Select(_ => new List<double>()).ToArray();
            var b32 = sessions.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < rounds; round++)
            {
                for (int k = 0; k < sessions.Length; k++)
                {
                    int f = (round + k) % sessions.Length;
                    b1[f].Add(RunMean(sessions[f], input1, repeats1));
                    b32[f].Add(RunMean(sessions[f], input32, repeats32));
                }
            }

            return sessions.Select((_, f) => (Stats.Of(b1[f].ToArray()).Median, Stats.Of(b32[f].ToArray()).Median)).ToArray();
        }
        finally
        {
            foreach (InferenceSession session in sessions)
                session.Dispose();
            options.Dispose();
        }
    }
}
