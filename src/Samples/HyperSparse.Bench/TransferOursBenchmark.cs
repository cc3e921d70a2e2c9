using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HyperSparse.Bench;

/// <summary>
/// Rows (b)–(e) of the transfer table, run as a user would: the <c>hypersparse train</c> command on the PNG class folders
/// (<c>--pretrained imagenet</c>, the transfer profile), <c>hypersparse evaluate</c> on the whole test folder, then the
/// shipped model.onnx timed in ONNX Runtime. One row per (method, per class, κ, seed), replaced atomically.
/// </summary>
internal static class TransferOursBenchmark
{
    /// <summary>κ of the dense row: ⌊κN⌋ = 0, so only the strict |w| &gt; τ rule removes one weight (as the accuracy section).</summary>
    private const double DenseKappa = 1e-9;

    public static int Run(Args args)
    {
        var method = args.Get("method") ?? throw new ArgumentException("transfer-ours needs --method dense|hs|magnitude|scratch.");
        if (method is not ("dense" or "hs" or "hs-int8" or "magnitude" or "scratch"))
            throw new ArgumentException($"transfer-ours --method: expected dense, hs, hs-int8, magnitude or scratch, found '{method}'.");
        var kappa = method == "dense" ? (double?)null : double.Parse(args.Get("kappa", "0.98"), CultureInfo.InvariantCulture);
        var trainDir = args.Get("train") ?? throw new ArgumentException("transfer-ours needs --train DIR (class folders of PNGs).");
        var testDir = args.Get("test") ?? throw new ArgumentException("transfer-ours needs --test DIR (class folders of PNGs).");
        var perClass = args.GetInt("per-class", 0, 1);
        var seed = args.GetInt("seed", 1, 0);
        var results = args.Get("results") ?? throw new ArgumentException("transfer-ours needs --results FILE (the rows file).");
        var cli = args.Get("cli") ?? throw new ArgumentException("transfer-ours needs --cli PATH (HyperSparse.Cli.dll).");
        var threads = args.GetInt("threads", 2, 1);
        var work = args.Get("work", "artifacts/bench-transfer/models");
        var revision = args.Get("revision", "unknown");
        var command = args.Get("command", "(not given)");
        var force = args.GetOnOff("force", false);
        var quick = args.GetOnOff("quick", false);
        var extra = args.Get("extra", "");
        var testLimit = args.Get("test-limit") is null ? (int?)null : args.GetInt("test-limit", 0, 1);
        args.EnsureAllUsed();

        var existing = RowFile.Read<TransferRow>(results, TransferRow.Json);
        var cached = existing.FirstOrDefault(r => r.Method == method && r.PerClass == perClass && r.Seed == seed && r.Kappa == kappa);
        if (!force && cached is not null)
        {
            Console.WriteLine("transfer-ours: cached: " + TransferBenchmark.Describe(cached));
            return 0;
        }

        // (d) trains as many epochs as (c) did after its head stage; (e) gets (c)'s training time.
        TransferRow? hs = existing.FirstOrDefault(r => r.Method == "hs" && r.PerClass == perClass && r.Seed == seed && r.Kappa == kappa);
        if (method is "magnitude" or "scratch" && hs is null)
            throw new InvalidOperationException($"transfer-ours --method {method} needs the hs row for {perClass} per class, κ {kappa}, seed {seed} first.");

        var name = string.Create(CultureInfo.InvariantCulture, $"{method}-{perClass}-{kappa?.ToString("R", CultureInfo.InvariantCulture) ?? "dense"}-s{seed}");
        var outDir = Path.GetFullPath(Path.Combine(work, name));
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        var train = new List<string> { "train", "--data", trainDir, "--out", outDir, "--holdout", "0", "--seed", seed.ToString(CultureInfo.InvariantCulture),
            "--plain", "--threads", threads.ToString(CultureInfo.InvariantCulture) };
        switch (method)
        {
            case "dense":
                train.AddRange(["--pretrained", "imagenet", "--method", "oneshot", "--sparsity", DenseKappa.ToString("R", CultureInfo.InvariantCulture)]);
                break;
            case "hs":
                train.AddRange(["--pretrained", "imagenet", "--sparsity", Inv($"{kappa}")]);
                break;
            case "hs-int8":
                // (c) with int8 weights (weights-only: per-channel scales, kept zeros exact), trained again with the same seed.
                train.AddRange(["--pretrained", "imagenet", "--sparsity", Inv($"{kappa}"), "--int8"]);
                break;
            case "magnitude":
                train.AddRange(["--pretrained", "imagenet", "--method", "oneshot", "--sparsity", Inv($"{kappa}"),
                    "--finetune", Inv($"{hs!.ArtEpochs + hs.FineTuneEpochsRun}")]);
                break;
            case "scratch":
                // CIFAR-style ResNet-20 at 32×32: the from-scratch network that trains fastest per point on this CPU (docs/benchmarks.md).
                train.AddRange(["--arch", "resnet20", "--image-size", "32", "--sparsity", Inv($"{kappa}"), "--profile", "standard",
                    "--time-budget", Inv($"{Math.Max(60, (int)Math.Round(hs!.TrainSeconds))}s")]);
                break;
        }
        if (extra.Length > 0) train.AddRange(extra.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var started = Machine.UtcNow();
        var loadStart = Machine.LoadAverage();
        RunCli(cli, train);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        var training = report.RootElement.GetProperty("training");
        var evalJson = Path.Combine(outDir, "evaluation-test.json");
        var clock = Stopwatch.StartNew();
        var evaluate = new List<string> { "evaluate", "--model", Path.Combine(outDir, "model.zip"), "--data", testDir, "--json", evalJson };
        if (testLimit is { } limit) evaluate.AddRange(["--limit", limit.ToString(CultureInfo.InvariantCulture)]);
        RunCli(cli, evaluate);
        var evalSeconds = clock.Elapsed.TotalSeconds;
        using var evaluation = JsonDocument.Parse(File.ReadAllText(evalJson));
        var onnx = Path.Combine(outDir, "model.onnx");
        var latency = new List<TransferLatency>();
        foreach (var t in new[] { 1, 2 }.Where(t => t <= Environment.ProcessorCount))
            latency.Add(TransferBenchmark.OnnxLatency(onnx, t, quick));

        var artEpochs = training.GetProperty("ArtEpochs").GetInt32();
        var notes = new StringBuilder();
        notes.Append(method == "scratch" ? "ResNet-20 (16-wide, CIFAR-style) at 32×32 from random weights, standard profile, " + Inv($"time budget = (c)'s training time ({hs!.TrainSeconds:F0} s). ")
            : "ML.NET's ImageNet ResNet-18 (blocks [2, 2, 2, 3]) at 64×64, transfer profile (head stage, then ART / prune / fine-tune). ");
        if (method == "magnitude") notes.Append(Inv($"Head stage, one-shot global magnitude prune, then {hs!.ArtEpochs + hs.FineTuneEpochsRun} masked fine-tune epochs (= (c)'s ART + fine-tune epochs). "));
        if (method == "dense") notes.Append("Head stage, then every layer fine-tuned dense (κ = 1e-9 removes one weight). ");
        if (method == "hs-int8") notes.Append("(c) trained again with --int8: weights stored as per-output-channel int8 (kept zeros exact), folded to float at load. ");
        notes.Append("Grayscale PNGs, one channel replicated to the network's three inside the model. Trained with `hypersparse train` (--holdout 0), accuracy by `hypersparse evaluate` on every test image; latency of the shipped model.onnx in ONNX Runtime.");
        if (extra.Length > 0) notes.Append(" Extra options: " + extra + ".");

        var row = new TransferRow
        {
            Method = method, PerClass = perClass, Seed = seed, Kappa = kappa,
            TrainImages = Directory.GetDirectories(trainDir).Sum(d => Directory.GetFiles(d, "*.png").Length),
            TestImages = evaluation.RootElement.GetProperty("Count").GetInt32(),
            TestAccuracy = 100 * evaluation.RootElement.GetProperty("Accuracy").GetDouble(),
            ArtEpochs = method is "hs" or "hs-int8" or "scratch" ? artEpochs : null,
            ArtStopReason = method is "hs" or "hs-int8" or "scratch" ? training.GetProperty("ArtStopReason").GetString() : null,
            FineTuneEpochsRun = training.GetProperty("FineTuneEpochs").GetInt32(),
            TrainSeconds = training.GetProperty("TotalSeconds").GetDouble(),
            EvalSeconds = evalSeconds,
            OnnxBytes = new FileInfo(onnx).Length,
            ZipBytes = new FileInfo(Path.Combine(outDir, "model.zip")).Length,
            ZipEmbedsOnnx = true,
            DeployBytes = new FileInfo(Path.Combine(outDir, "model.zip")).Length,
            Latency = latency.ToArray(),
            ImageSize = method == "scratch" ? 32 : 64,
            Threads = threads,
            Notes = notes.ToString(),
            Machine = HyperSparse.Bench.Machine.Describe(), StartedUtc = started, FinishedUtc = Machine.UtcNow(),
            LoadStart = loadStart, LoadEnd = Machine.LoadAverage(), Revision = revision, Command = command,
        };
        RowFile.Replace(results, row, r => r.SameSlot(row), r => r.Order, TransferRow.Json);
        Console.WriteLine("transfer-ours: " + TransferBenchmark.Describe(row));
        return 0;
    }

    private static void RunCli(string cli, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet " + cli);
        child.WaitForExit();
        if (child.ExitCode != 0)
            throw new InvalidOperationException($"'hypersparse {string.Join(' ', start.ArgumentList.Skip(1))}' failed with exit code {child.ExitCode}.");
    }

    private static string Inv(FormattableString text) => FormattableString.Invariant(text);
}
