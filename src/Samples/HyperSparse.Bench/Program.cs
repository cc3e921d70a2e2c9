// HyperSparse.Bench — the benchmarks behind build/bench.sh (size, latency → docs/benchmarks.md) and build/bench-step.sh (step).
//
//   step    one configuration per process (the glibc malloc setting can only be chosen at process start):
//           dotnet run -c Release --project src/Samples/HyperSparse.Bench -- step --arch resnet20 --batch 128 \
//               --steps 30 --warmup 5 --malloc on --hs on [--input 1x28x28|3x32x32] [--threads 2] [--raw rows.jsonl]
//   report  pools the rows a series of `step` processes (and build/torch_step.py, the PyTorch peer) appended to --raw,
//           and the rows of `fit` processes given by --fit, and prints markdown (build/bench-step.sh drives all three).
//   fit     one process of "ML.NET Fit vs the engine's loop": the same short schedule on a Fashion-MNIST slice, through
//           the public estimator (--mode fit) or ArtTrainer directly (--mode raw); per-epoch and Fit's read/export times.
//   size    one (arch, κ) row of the size table: the trained model from artifacts/bench-models (trained through the engine
//           on a Fashion-MNIST slice when not cached), written as Dense / SparseInitializer / Compact / Compact+int8 ONNX,
//           each measured (bytes, deflated bytes, byte anatomy) and scored in ONNX Runtime; the row goes to --results.
//   latency ONNX Runtime session creation and scoring time of the Dense / Compact / Compact+int8 files of one cached model.
//   accuracy one row of the accuracy-vs-sparsity table: trains (arch, κ, method, seed) on Fashion-MNIST with a fixed schedule,
//           scores t10k, caches the row in --results; resumes an interrupted row from its checkpoints.
//   render  writes docs/benchmarks.md from the rows of every section present (build/bench.sh drives all three).
//   budget  one row of the time-budget benchmark: trains (arch, κ, method) with TrainingOptions.TimeBudget on Fashion-MNIST,
//           scores the test split, caches the row in --results; resumes an interrupted row from its checkpoints.
//   budget-render  writes the markdown for the cached budget rows (build/bench-budget.sh drives both).
//   transfer-mlnet  row (a) of the transfer table: ML.NET's offline transfer recipe (DnnFeaturizeImage with its ResNet-18 +
//           LbfgsMaximumEntropy) trained on PNG class folders, scored on a test folder; sizes and latencies; the row to --results.
//   int8-latency  ONNX Runtime time of float vs full int8 (QDQ) files of a ResNet-20 and an ImageNet ResNet-18 at 64×64 with
//           random weights pruned to κ, batch 1 and 32, 1 intra-op thread; prints the float/int8 ratio.
//   speed   issue #22's scoring-speed row of one cached trained model (lenet5, resnet20, resnet32, resnet18mlnet = ML.NET's
//           ResNet-18 from ImageNet weights): dense float, Compact float, int8 weights, full int8 — t10k accuracy of each,
//           ONNX Runtime latency at batch 1 and 32 on 1 and 2 threads; the row to --results (build/bench.sh speed).
//   epoch-ratio  an ART epoch (training pass + pruned-copy probe) against a fine-tune epoch in the engine's trainer, fixed
//           schedule on a Fashion-MNIST slice; one row appended to --raw (build/bench-step.sh drives it).
//   memory  trains LeNet-5 (≥ 10 epochs) on a Fashion-MNIST slice and prints RSS, managed heap and live tensors after every
//           epoch, then the RSS growth from epoch 2 to 10 (build/bench-memory.sh drives it).
using HyperSparse.Bench;

try
{
    if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    {
        Console.WriteLine(Usage.Text);
        return 0;
    }
    var options = Args.Parse(args.Skip(1));
    return args[0] switch
    {
        "step" => StepBenchmark.Run(options),
        "report" => StepReport.Run(options),
        "fit" => FitBenchmark.Run(options),
        "size" => SizeBenchmark.Run(options),
        "latency" => LatencyBenchmark.Run(options),
        "render" => BenchmarkReport.Run(options),
        "accuracy" => AccuracyBenchmark.Run(options),
        "budget" => BudgetBenchmark.Run(options),
        "budget-render" => BudgetBenchmark.Render(options),
        "memory" => MemoryBenchmark.Run(options),
        "transfer-mlnet" => TransferBenchmark.RunMlnet(options),
        "transfer-ours" => TransferOursBenchmark.Run(options),
        "int8-latency" => Int8LatencyBenchmark.Run(options),
        "speed" => SpeedBenchmark.Run(options),
        "epoch-ratio" => EpochRatioBenchmark.Run(options),
        _ => throw new ArgumentException($"Unknown command '{args[0]}'. Use 'step', 'report', 'fit', 'size', 'latency', 'accuracy', 'render', 'budget', 'budget-render', 'memory', 'transfer-mlnet', 'transfer-ours', 'int8-latency', 'speed' or 'epoch-ratio'."),
    };
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    Console.Error.WriteLine(Usage.Text);
    return 2;
}

namespace HyperSparse.Bench
{
    internal static class Usage
    {
        public const string Text =
            "usage: HyperSparse.Bench step [--arch lenet5|resnet20|resnet32|mlp|vgg19|resnet18mlnet] [--input CxHxW] [--classes 10]\n" +
            "                              [--batch 128] [--steps N] [--warmup N] [--max-seconds S] [--malloc on|off]\n" +
            "                              [--hs on|off] [--threads 2] [--lr 0.01] [--seed 1] [--round N] [--raw FILE]\n" +
            "                              [--lever none|channels-last|bf16|grad-none]\n" +
            "       HyperSparse.Bench report --raw FILE [--fit FILE] [--epochs FILE] [--loads FILE] [--out FILE.md] [--command TEXT]\n" +
            "                              [--load-start TEXT] [--load-end TEXT (default: now)] [--elapsed S]\n" +
            "       HyperSparse.Bench fit --mode fit|raw [--arch lenet5|resnet20|mlp] [--train 10000] [--batch 128] [--epochs 3]\n" +
            "                              [--threads 2] [--seed 42] [--round N] [--raw FILE]\n" +
            "       HyperSparse.Bench size --arch lenet5|resnet20|resnet32 --kappa K --results FILE [--reexport on|off] [--retrain on|off]\n" +
            "                              [--quick on|off] [--models DIR] [--onnx-dir DIR] [--test N] [--ort-threads 2] [SCHEDULE]\n" +
            "       HyperSparse.Bench latency --arch A --kappa K --results FILE [--quick on|off] [--models DIR] [--ort-threads 2]\n" +
            "                              [--runs-1 40] [--runs-64 20] [--creations 7] [SCHEDULE]\n" +
            "       HyperSparse.Bench accuracy --arch lenet5|resnet20 --method hs|l1|magnitude|dense [--kappa K] [--seed 1] --results FILE\n" +
            "                              [--work DIR] [--quick on|off] [--train N] [--test N] [--threads 2] [--jobs 1] [--revision TEXT]\n" +
            "       HyperSparse.Bench render --out FILE.md [--accuracy FILE] [--step FILE.md] [--budget FILE.md] [--size FILE] [--latency FILE]\n" +
            "                              [--transfer FILE] [--command TEXT]\n" +
            "       HyperSparse.Bench transfer-mlnet --train DIR --test DIR --per-class N --seed S --results FILE [--threads 1]\n" +
            "       HyperSparse.Bench transfer-ours --method dense|hs|magnitude|scratch [--kappa 0.98] --train DIR --test DIR --per-class N --seed S --results FILE --cli HyperSparse.Cli.dll [--threads 2]\n" +
            "                              [--test-images N (default: all)] [--quick on|off] [--work DIR] [--force on|off] [--revision TEXT] [--command TEXT]\n" +
            "SCHEDULE (overrides TrainConfig.Default/Quick per arch): [--train N] [--batch N] [--lr X] [--warmup-epochs N]\n" +
            "  [--art-cap N] [--fine-tune-epochs N] [--lr-steps a,b] [--lambda-init X] [--lambda-growth X] [--crop N] [--seed N] [--threads N]\n" +
            "size and latency also take --revision TEXT and --command TEXT (stamped into the row).\n" +
            "       HyperSparse.Bench budget --arch lenet5|resnet20 --method hs|l1|magnitude|dense [--kappa 0.98] --budget 10m\n" +
            "                              --results FILE [--work DIR] [--train 60000] [--test 10000] [--batch N] [--lr 0.05]\n" +
            "                              [--crop 2] [--flip on] [--seed 42] [--threads 2] [--force on|off] [--revision TEXT]\n" +
            "       HyperSparse.Bench budget-render --results FILE [--out FILE.md] [--rows 'arch:κ:method:budget ...'] [--command TEXT]\n" +
            "       HyperSparse.Bench int8-latency [--threads 1] [--kappa 0.98] [--calibration 32] [--rounds 15] [--repeats-1 10]\n" +
            "                              [--repeats-32 2] [--warmup-runs 3] [--seed 1]\n" +
            "       HyperSparse.Bench speed --arch lenet5|resnet20|resnet32|resnet18mlnet --kappa 0.98 --results FILE [--models DIR]\n" +
            "                              [--test-images 10000] [--rounds 15] [--calibration 256] [--threads-list 1,2] [--quick on|off]\n" +
            "                              [--force on|off] [--revision TEXT] [--command TEXT] (+ the size command's schedule overrides)\n" +
            "       HyperSparse.Bench epoch-ratio --arch lenet5|resnet20 --raw FILE [--train 20000] [--batch 128] [--art 4]\n" +
            "                              [--finetune 4] [--threads 2] [--round N] [--probe onnxruntime|torch] [--probe-batch N] [--layout nhwc|nchw] [--precision fp32|bf16] [--seed 7] [--test 2000] (defaults: the engine's)\n" +
            "       HyperSparse.Bench memory [--train 10000] [--batch 256] [--warmup-epochs 4] [--art-cap 4] [--fine-tune-epochs 6]\n" +
            "                                [--threads 2] [--seed 7] [--from 2] [--to 10] [--max-growth 5] [--checkpoints on|off]\n" +
            "                                [--collect on|off]\n" +
            "Defaults: input = the arch's natural shape (1x28x28, Fashion-MNIST; vgg19: 3x32x32), steps 50, warmup 5,\n" +
            "malloc on, hs off. --max-seconds stops the measured loop early once that much time was spent (n is reported).\n" +
            "size: a row is skipped when its whole config is already in --results (unless --reexport/--retrain on).";
    }

    /// <summary>--name value pairs; every option takes exactly one value.</summary>
    internal sealed class Args
    {
        private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
        private readonly HashSet<string> used = new(StringComparer.Ordinal);

        public static Args Parse(IEnumerable<string> args)
        {
            var result = new Args();
            using var e = args.GetEnumerator();
            while (e.MoveNext())
            {
                var key = e.Current;
                if (!key.StartsWith("--", StringComparison.Ordinal) || key.Length < 3)
                    throw new ArgumentException($"Expected an option (--name value), got '{key}'.");
                if (!e.MoveNext()) throw new ArgumentException($"Option {key} needs a value.");
                result.values[key[2..]] = e.Current;
            }
            return result;
        }

        public string? Get(string name)
        {
            used.Add(name);
            return values.TryGetValue(name, out var v) ? v : null;
        }

        public string Get(string name, string fallback) => Get(name) ?? fallback;

        public int GetInt(string name, int fallback, int min)
        {
            var s = Get(name);
            if (s is null) return fallback;
            if (!int.TryParse(s, out var v) || v < min) throw new ArgumentException($"--{name} must be an integer ≥ {min}, got '{s}'.");
            return v;
        }

        public double GetDouble(string name, double fallback)
        {
            var s = Get(name);
            if (s is null) return fallback;
            if (!double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                throw new ArgumentException($"--{name} must be a number, got '{s}'.");
            return v;
        }

        public bool GetOnOff(string name, bool fallback)
        {
            var s = Get(name);
            return s switch
            {
                null => fallback,
                "on" or "true" or "1" => true,
                "off" or "false" or "0" => false,
                _ => throw new ArgumentException($"--{name} must be on or off, got '{s}'."),
            };
        }

        /// <summary>Comma-separated non-negative integers ("" = none); null when <paramref name="s"/> is null.</summary>
        public static int[]? ParseInts(string? s, string name)
        {
            if (s is null) return null;
            if (s.Trim().Length == 0) return [];
            var parts = s.Split(',');
            var values = new int[parts.Length];
            for (var i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i], out values[i]) || values[i] < 0)
                    throw new ArgumentException($"--{name} must be comma-separated integers ≥ 0, got '{s}'.");
            return values;
        }

        /// <summary>Rejects options nobody read (typos would otherwise silently measure the default).</summary>
        public void EnsureAllUsed()
        {
            var unknown = values.Keys.Where(k => !used.Contains(k)).ToList();
            if (unknown.Count > 0) throw new ArgumentException("Unknown option(s): " + string.Join(", ", unknown.Select(k => "--" + k)));
        }
    }
}
