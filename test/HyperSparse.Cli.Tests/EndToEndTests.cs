using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// The tool as a user runs it: export-images (real Fashion-MNIST PNGs) → train (tiny schedule) → evaluate → predict →
/// inspect, and every file train writes is opened with the tool a user would use. Then Ctrl+C (cancellation) and --resume
/// with a layer kept dense.
/// </summary>
[TestClass]
public sealed class EndToEndTests
{
    private static string root = null!;
    private static string trainImages = null!;
    private static string testImages = null!;
    private static Lazy<(CliRunner.Result Result, string Output, TimeSpan Elapsed)> trained = null!;

    // A schedule that finishes in seconds on 300 images; enough to exercise every phase and file.
    private static readonly string[] Tiny = { "--sparsity", "0.9", "--arch", "lenet5", "--profile", "quick", "--limit", "300",
        "--warmup", "2", "--max-art", "3", "--finetune", "2", "--batch-size", "64", "--lr", "0.05", "--plain" };

    [ClassInitialize]
    public static void ExportImages(TestContext _)
    {
        var idx = CliRunner.FashionMnist();
        root = CliRunner.TempFolder("hs-cli-e2e");
        trainImages = Path.Combine(root, "train");
        testImages = Path.Combine(root, "test");
        var train = CliRunner.Run("export-images", "--idx", idx, "--out", trainImages, "--limit", "300");
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        var test = CliRunner.Run("export-images", "--idx", idx, "--out", testImages, "--limit", "100", "--split", "test");
        Assert.AreEqual(0, test.ExitCode, test.ToString());
        // One trained model for every test that reads one (train/evaluate/predict and inspect), trained by the first to ask.
        trained = new(() =>
        {
            var output = Path.Combine(root, "model");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var result = CliRunner.Run(new[] { "train", "--data", trainImages, "--out", output }.Concat(Tiny).ToArray(), null, default);
            return (result, output, watch.Elapsed);
        });
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        if (root is not null && Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [TestMethod]
    public void ExportImages_WritesFashionMnistClassFolders()
    {
        var classes = Directory.GetDirectories(trainImages).Select(Path.GetFileName).Order().ToArray();
        CollectionAssert.AreEqual(new[] { "Ankle-boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt-top", "Trouser" }, classes);
        var pngs = Directory.GetFiles(trainImages, "*.png", SearchOption.AllDirectories);
        Assert.HasCount(300, pngs);
        using var bitmap = SKBitmap.Decode(pngs[0]);
        Assert.AreEqual(28, bitmap.Width);
        Assert.AreEqual(28, bitmap.Height);
        Assert.IsEmpty(Directory.GetFiles(trainImages, "*.tmp", SearchOption.AllDirectories), "no temporary files left");
    }

    [TestMethod]
    public void TrainEvaluatePredict_OnExportedImages_EveryFileOpens()
    {
        var (train, output, elapsed) = trained.Value;
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        Assert.Contains("warm-up", train.Out, "per-epoch progress is shown");
        Assert.Contains("fine-tune", train.Out);
        // Wall time is a benchmark figure, not an assertion (the CI box is shared); logged for whoever reads the output.
        Console.WriteLine($"tiny train took {elapsed.TotalSeconds:F0} s");

        string[] expected = { "model.zip", "model.onnx", "report.md", "report.json", "training-curves.png", "layer-density.png", "art-gap.png", "Consume.cs" };
        foreach (var file in expected) Assert.IsTrue(File.Exists(Path.Combine(output, file)), $"{file} missing\n{train}");
        Assert.IsEmpty(Directory.GetFiles(output, "*.tmp"), "no temporary files left");

        // model.zip: loads with ML.NET alone and scores an image path.
        var ml = new MLContext();
        var model = ml.Model.Load(Path.Combine(output, "model.zip"), out var inputSchema);
        Assert.AreEqual("ImagePath", inputSchema.Single().Name);
        var anImage = Directory.GetFiles(Path.Combine(testImages, "Trouser")).First();
        var scored = model.Transform(ml.Data.LoadFromEnumerable(new[] { new PathInput { ImagePath = anImage } }));
        var score = scored.GetColumn<float[]>("Score").Single();
        Assert.HasCount(10, score);
        Assert.AreEqual(1.0, score.Sum(), 1e-4);

        // model.onnx: opens in ONNX Runtime with a [N, 1, 28, 28] input.
        using (var session = new InferenceSession(Path.Combine(output, "model.onnx")))
        {
            var input = session.InputMetadata.Single();
            CollectionAssert.AreEqual(new[] { 1, 28, 28 }, input.Value.Dimensions.Skip(1).ToArray());
            Assert.IsTrue(session.OutputMetadata.ContainsKey("Score"));
        }

        // PNG plots decode.
        foreach (var png in new[] { "training-curves.png", "layer-density.png", "art-gap.png" })
        {
            using var bitmap = SKBitmap.Decode(Path.Combine(output, png));
            Assert.IsNotNull(bitmap, png);
            Assert.IsGreaterThan(200, bitmap.Width, png);
        }

        // report.json parses and carries the trainer's report.
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))))
        {
            var training = json.RootElement.GetProperty("training");
            Assert.AreEqual(7, training.GetProperty("Epochs").GetArrayLength());   // 2 warm-up + 3 ART (cap) + 2 fine-tune
            Assert.AreEqual(61_470 - (long)Math.Floor(0.9 * 61_470) - 1, training.GetProperty("KeptWeights").GetInt64());
            Assert.AreEqual(5, training.GetProperty("Layers").GetArrayLength());
            Assert.AreEqual(10, json.RootElement.GetProperty("evaluation").GetProperty("ClassNames").GetArrayLength());
            Assert.AreEqual("folder", json.RootElement.GetProperty("run").GetProperty("Data").GetProperty("Kind").GetString());
        }
        var markdown = File.ReadAllText(Path.Combine(output, "report.md"));
        Assert.Contains("## Layers", markdown);
        Assert.Contains("![training curves](training-curves.png)", markdown);
        Assert.Contains("## ART: λ path and the pruned copy's gap", markdown);
        Assert.DoesNotContain("## Time budget", markdown, "no budget, no budget section");

        // Consume.cs names the model's columns and classes.
        var consume = File.ReadAllText(Path.Combine(output, "Consume.cs"));
        foreach (var text in new[] { "\"ImagePath\"", "\"Score\"", "\"T-shirt-top\"", "\"Ankle-boot\"", "ml.Model.Load" })
            Assert.Contains(text, consume);
        // ... and compiles on its own and scores an image the way a user's program would.
        var snippet = ConsumeSnippetCompiler.Compile(consume);
        var predictMethod = snippet.GetType("HyperSparseModel")!.GetMethod("Predict")!;
        var prediction = (System.Runtime.CompilerServices.ITuple)predictMethod.Invoke(null, new object[] { anImage, Path.Combine(output, "model.zip") })!;
        var classNames = (string[])snippet.GetType("HyperSparseModel")!.GetField("ClassNames")!.GetValue(null)!;
        CollectionAssert.Contains(classNames, (string)prediction[0]!);
        Assert.AreEqual(score.Max(), (float)prediction[1]!, 1e-6f, "Consume.cs gives the model's top probability");

        // evaluate: accuracy, per-class table, confusion matrix.
        var evaluate = CliRunner.Run("evaluate", "--model", Path.Combine(output, "model.zip"), "--data", testImages, "--json", Path.Combine(root, "eval.json"));
        Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
        Assert.Contains("Accuracy", evaluate.Out);
        Assert.Contains("Per class", evaluate.Out);
        Assert.Contains("Confusion matrix", evaluate.Out);
        using (var evalJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "eval.json"))))
            Assert.AreEqual(100, evalJson.RootElement.GetProperty("Count").GetInt32());

        // predict: label and top-3 per image.
        var images = new[] { anImage, Directory.GetFiles(Path.Combine(testImages, "Bag")).First() };
        var predict = CliRunner.Run(new[] { "predict", "--model", Path.Combine(output, "model.zip") }.Concat(images).ToArray());
        Assert.AreEqual(0, predict.ExitCode, predict.ToString());
        Assert.Contains("top 3", predict.Out);
        foreach (var image in images) Assert.Contains(Path.GetFileName(image), predict.Out);
        Assert.AreEqual(2, predict.Out.Split('\n').Count(l => l.Contains('%') && l.Split('%').Length == 4), predict.Out);
    }

    [TestMethod]
    public void Inspect_TrainedModel_FiguresEqualReportJson()
    {
        var (train, output, _) = trained.Value;
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var training = report.RootElement.GetProperty("training");

        foreach (var file in new[] { "model.onnx", "model.zip" })
        {
            var path = Path.Combine(output, file);
            var json = CliRunner.Run("inspect", path, "--json");
            Assert.AreEqual(0, json.ExitCode, json.ToString());
            Assert.AreEqual("", json.Error);
            using var info = JsonDocument.Parse(json.Out);
            var root = info.RootElement;
            Assert.IsTrue(root.GetProperty("IsHyperSparseModel").GetBoolean(), file);
            Assert.AreEqual(0, root.GetProperty("Warnings").GetArrayLength(), json.Out);
            Assert.AreEqual(file == "model.zip", root.GetProperty("ZipEntry").ValueKind == JsonValueKind.String, file);

            // Per layer and in total, the file's figures are the training report's: the report's Shape/Kept are the trained
            // layer's and OnnxShape/OnnxKept the file's (after the dead-channel shrink); the inspector's Shape/Kept are the
            // file's and TrainedShape/TrainedKept the trained layer's.
            static long[] Dims(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var layers = root.GetProperty("Layers").EnumerateArray().ToList();
            var expected = training.GetProperty("Layers").EnumerateArray().ToList();
            Assert.HasCount(expected.Count, layers, file);
            for (var i = 0; i < layers.Count; i++)
            {
                var (a, e) = (layers[i], expected[i]);
                var context = $"{file} {e.GetProperty("Name").GetString()}";
                Assert.AreEqual(e.GetProperty("Name").GetString(), a.GetProperty("Node").GetString() + ".weight", context);
                // One vocabulary: the report's and the inspector's Trained*/Shipped* figures are the same numbers under the same names.
                foreach (var shape in new[] { "TrainedShape", "ShippedShape" })
                    CollectionAssert.AreEqual(Dims(e, shape), Dims(a, shape), $"{context} {shape}");
                foreach (var count in new[] { "TrainedTotal", "TrainedKept", "ShippedTotal", "ShippedKept" })
                    Assert.AreEqual(e.GetProperty(count).GetInt64(), a.GetProperty(count).GetInt64(), $"{context} {count}");
                foreach (var figure in new[] { "OnnxBytes", "OutputChannelsRemoved", "InputChannelsRemoved" })
                    Assert.AreEqual(e.GetProperty(figure).GetInt64(), a.GetProperty(figure).GetInt64(), $"{context} {figure}");
                foreach (var sparsity in new[] { "TrainedSparsity", "ShippedSparsity" })
                    Assert.AreEqual(e.GetProperty(sparsity).GetDouble(), a.GetProperty(sparsity).GetDouble(), 1e-12, $"{context} {sparsity}");
                Assert.AreEqual(e.GetProperty("Encoding").GetString(), a.GetProperty("Encoding").GetString(), context);
                Assert.AreEqual(e.GetProperty("KeptDense").GetBoolean(), a.GetProperty("KeptDense").GetBoolean(), context);
                Assert.AreEqual(i < 2 ? "Conv" : "Gemm", a.GetProperty("Op").GetString(), context);
            }
            foreach (var (figure, inspected) in new[] { ("PrunableWeights", "TrainedPrunableWeights"), ("KeptWeights", "TrainedKeptWeights"), ("OnnxBytes", "OnnxBytes"), ("DenseOnnxBytes", "DenseOnnxBytes") })
                Assert.AreEqual(training.GetProperty(figure).GetInt64(), root.GetProperty(inspected).GetInt64(), $"{file} {figure}");
            Assert.AreEqual(expected.Where(e => !e.GetProperty("KeptDense").GetBoolean()).Sum(e => e.GetProperty("ShippedKept").GetInt64()), root.GetProperty("KeptWeights").GetInt64(), $"{file} kept in the file");
            Assert.AreEqual(training.GetProperty("BoundBytes").GetDouble(), root.GetProperty("BoundBytes").GetDouble(), file);
            Assert.AreEqual(training.GetProperty("AchievedSparsity").GetDouble(), root.GetProperty("TrainedSparsity").GetDouble(), file);

            // The input contract: the image column, 1×28×28, 0..255 pixels scaled by 1/255, one mean and std.
            var contract = root.GetProperty("Contract");
            Assert.AreEqual("Features", contract.GetProperty("InputName").GetString());
            CollectionAssert.AreEqual(new[] { "1", "28", "28" }, contract.GetProperty("InputShape").EnumerateArray().Skip(1).Select(d => d.GetString()).ToArray());
            Assert.AreEqual(1f / 255, contract.GetProperty("PixelScale").GetSingle());
            Assert.AreEqual(1, contract.GetProperty("Mean").GetArrayLength());
            Assert.AreEqual(1, contract.GetProperty("Std").GetArrayLength());
            Assert.AreEqual(10, contract.GetProperty("ClassCount").GetInt32());

            // The table: every layer with op, shape, kept, sparsity, encoding and bytes; totals, bound and contract.
            var table = CliRunner.Run("inspect", path);
            Assert.AreEqual(0, table.ExitCode, table.ToString());
            foreach (var layer in layers)
            {
                var row = table.Out.Split('\n').Single(l => l.StartsWith(layer.GetProperty("Name").GetString() + " ", StringComparison.Ordinal));
                foreach (var cell in new[]
                {
                    layer.GetProperty("Op").GetString()!, string.Join('x', layer.GetProperty("ShippedShape").EnumerateArray().Select(d => d.GetInt64())),
                    layer.GetProperty("ShippedKept").GetInt64().ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                    (layer.GetProperty("ShippedSparsity").GetDouble() * 100).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + " %",
                    layer.GetProperty("Encoding").GetString()!,
                    layer.GetProperty("OnnxBytes").GetInt64().ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                })
                    Assert.Contains(cell, row, table.Out);
            }
            foreach (var text in new[] { "Pruned layers", "File:", "Dense:", "Bound:", "Input:    'Features' float [batch, 1, 28, 28]", "x × 0.003921569" })
                Assert.Contains(text, table.Out);
        }
    }

    [TestMethod]
    public void Train_NoShrink_KeepsEveryChannelAndScoresLikeTheDefaultModel()
    {
        var (shrunkRun, shrunk, _) = trained.Value;
        Assert.AreEqual(0, shrunkRun.ExitCode, shrunkRun.ToString());
        // The same command (same seed, same data, so the same trained network) with the dead channels kept.
        var output = Path.Combine(root, "no-shrink");
        var train = CliRunner.Run(new[] { "train", "--data", trainImages, "--out", output }.Concat(Tiny).Append("--no-shrink").ToArray(), null, default);
        Assert.AreEqual(0, train.ExitCode, train.ToString());

        using var unshrunkJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        using var shrunkJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(shrunk, "report.json")));
        Assert.IsFalse(unshrunkJson.RootElement.GetProperty("run").GetProperty("Schedule").GetProperty("ShrinkDeadChannels").GetBoolean());
        Assert.IsTrue(shrunkJson.RootElement.GetProperty("run").GetProperty("Schedule").GetProperty("ShrinkDeadChannels").GetBoolean());
        var unshrunkLayers = unshrunkJson.RootElement.GetProperty("training").GetProperty("Layers").EnumerateArray().ToList();
        var shrunkLayers = shrunkJson.RootElement.GetProperty("training").GetProperty("Layers").EnumerateArray().ToList();
        long removed = 0;
        for (var i = 0; i < unshrunkLayers.Count; i++)
        {
            var (u, s) = (unshrunkLayers[i], shrunkLayers[i]);
            var name = u.GetProperty("Name").GetString();
            Assert.AreEqual(u.GetProperty("TrainedShape").ToString(), u.GetProperty("ShippedShape").ToString(), $"{name}: every channel in the file");
            Assert.AreEqual(u.GetProperty("TrainedKept").GetInt64(), u.GetProperty("ShippedKept").GetInt64(), name);
            Assert.AreEqual(u.GetProperty("TrainedKept").GetInt64(), s.GetProperty("TrainedKept").GetInt64(), $"{name}: the same trained network");
            removed += s.GetProperty("OutputChannelsRemoved").GetInt64() + s.GetProperty("InputChannelsRemoved").GetInt64();
        }
        Console.WriteLine($"default model: {removed} channels and input slices removed; ONNX {new FileInfo(Path.Combine(shrunk, "model.onnx")).Length:N0} B vs {new FileInfo(Path.Combine(output, "model.onnx")).Length:N0} B with --no-shrink");

        // The same scores: evaluate both models on the test images.
        var results = new[] { shrunk, output }.Select(folder =>
        {
            var json = Path.Combine(folder, "eval-test.json");
            var evaluate = CliRunner.Run("evaluate", "--model", Path.Combine(folder, "model.zip"), "--data", testImages, "--json", json);
            Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
            using var document = JsonDocument.Parse(File.ReadAllText(json));
            return (Accuracy: document.RootElement.GetProperty("Accuracy").GetDouble(), LogLoss: document.RootElement.GetProperty("LogLoss").GetDouble());
        }).ToArray();
        Assert.AreEqual(results[1].Accuracy, results[0].Accuracy);
        Assert.AreEqual(results[1].LogLoss, results[0].LogLoss, 1e-5);

        var inspect = CliRunner.Run("inspect", Path.Combine(output, "model.onnx"));
        Assert.AreEqual(0, inspect.ExitCode, inspect.ToString());
        Assert.DoesNotContain("Removed", inspect.Out, "nothing removed, no column");
        Assert.DoesNotContain("| dead channels |", File.ReadAllText(Path.Combine(output, "report.md")));
        Assert.AreEqual(removed > 0, File.ReadAllText(Path.Combine(shrunk, "report.md")).Contains("| dead channels |", StringComparison.Ordinal),
            "the default model's report says what was removed, when anything was");
    }

    /// <summary>
    /// --bf16: the same tiny run in bfloat16 mixed precision finishes, records the choice in report.json and report.md, and
    /// its float32 model (same file format) scores the test images about as well as the float32 run's (a learning claim on
    /// 300 images: within 15 points, and far above chance).
    /// </summary>
    [TestMethod]
    public void Train_BFloat16_RecordsThePrecisionAndLearnsAsFloat32Does()
    {
        var (defaultRun, defaultOutput, _) = trained.Value;
        Assert.AreEqual(0, defaultRun.ExitCode, defaultRun.ToString());
        var output = Path.Combine(root, "bf16");
        var train = CliRunner.Run(new[] { "train", "--data", trainImages, "--out", output }.Concat(Tiny).Append("--bf16").ToArray(), null, default);
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))))
            Assert.IsTrue(json.RootElement.GetProperty("run").GetProperty("Schedule").GetProperty("UseBFloat16").GetBoolean());
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(defaultOutput, "report.json"))))
            Assert.IsFalse(json.RootElement.GetProperty("run").GetProperty("Schedule").GetProperty("UseBFloat16").GetBoolean());
        Assert.Contains("| precision | bfloat16 mixed precision", File.ReadAllText(Path.Combine(output, "report.md")));
        Assert.Contains("| precision | float32 |", File.ReadAllText(Path.Combine(defaultOutput, "report.md")));

        var accuracy = new[] { defaultOutput, output }.Select(folder =>
        {
            var file = Path.Combine(folder, "eval-bf16-test.json");
            var evaluate = CliRunner.Run("evaluate", "--model", Path.Combine(folder, "model.zip"), "--data", testImages, "--json", file);
            Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            return document.RootElement.GetProperty("Accuracy").GetDouble();
        }).ToArray();
        Console.WriteLine($"test accuracy: float32 {accuracy[0]:P1}, bfloat16 {accuracy[1]:P1}");
        Assert.IsTrue(accuracy[1] > 0.3, $"bfloat16 learns: {accuracy[1]:P1}");
        Assert.IsTrue(accuracy[1] > accuracy[0] - 0.15, $"bfloat16 {accuracy[1]:P1} vs float32 {accuracy[0]:P1}");
    }

    [TestMethod]
    public void Train_TimeBudget_PlansTheScheduleKeepsGivenOverridesAndReportsIt()
    {
        var output = Path.Combine(root, "budget");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var train = CliRunner.Run("train", "--data", trainImages, "--out", output, "--arch", "lenet5", "--sparsity", "0.9", "--limit", "300",
            "--time-budget", "20s", "--lambda-growth", "1.3", "--batch-size", "64", "--plain");
        Assert.AreEqual(0, train.ExitCode, train.ToString());
        Assert.Contains("time budget 20s", train.Out, "the header says the schedule is planned");
        Assert.Contains("kept as given: η", train.Out, "the header names the override the planner keeps");
        Assert.Contains("budget left", train.Out, "progress shows the budget left");
        Assert.Contains("Plan: ", train.Out, "planning decisions are shown as they are taken");
        Assert.Contains("Time budget 20s: training used", train.Out);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var budget = json.RootElement.GetProperty("training").GetProperty("TimeBudget");
        var used = budget.GetProperty("UsedSeconds").GetDouble();
        Assert.IsTrue(used is >= 17 and <= 23, $"training used {used:F1} s of 20 s\n{train}");
        CollectionAssert.AreEqual(new[] { "LambdaGrowth" }, budget.GetProperty("FixedSettings").EnumerateArray().Select(e => e.GetString()).ToArray());
        Assert.AreEqual(1.3, budget.GetProperty("FinalLambdaGrowth").GetDouble(), "the given η is kept exactly");
        var decisions = budget.GetProperty("Decisions").EnumerateArray().Select(d => d.GetProperty("Setting").GetString()).ToList();
        CollectionAssert.IsSubsetOf(new[] { "TimeBudget", "WarmupEpochs", "LambdaInit", "FineTuneEpochs", "LearningRateSteps" }, decisions);
        Assert.IsFalse(decisions.Contains("LambdaGrowth"), "η was given, so the planner never decides it");
        Assert.AreEqual(20, json.RootElement.GetProperty("run").GetProperty("Schedule").GetProperty("TimeBudgetSeconds").GetDouble());

        var markdown = File.ReadAllText(Path.Combine(output, "report.md"));
        foreach (var text in new[] { "## Time budget", "| time budget | 20s", "Planning decisions", "| warm-up epochs |", "λ_init planned, η as given", "![pruned copy vs dense per ART epoch](art-gap.png)" })
            Assert.Contains(text, markdown);
        using var bitmap = SKBitmap.Decode(Path.Combine(output, "art-gap.png"));
        Assert.IsNotNull(bitmap);
        Console.WriteLine($"budgeted train took {watch.Elapsed.TotalSeconds:F0} s (budget 20 s; bench-budget.sh measures adherence)");
    }

    [TestMethod]
    public void Train_Cancelled_KeepsCheckpointAndResumeFinishes()
    {
        var output = Path.Combine(root, "cancelled");
        using var cancel = new CancellationTokenSource();
        // Cancel the way Ctrl+C does, once the second warm-up epoch is under way.
        var writer = new WatchingWriter(line => { if (line.Contains("warm-up     1/")) cancel.Cancel(); });
        // This run also keeps LeNet-5's first convolution dense, so the resume check and the report cover the option.
        var withoutKeepDense = new[] { "train", "--data", trainImages, "--out", output }.Concat(Tiny).ToArray();
        var args = withoutKeepDense.Concat(new[] { "--keep-dense", "conv1" }).ToArray();
        var cancelled = CliRunner.Run(args, writer, cancel.Token);
        Assert.AreEqual(130, cancelled.ExitCode, cancelled.ToString());
        Assert.Contains("--resume", cancelled.Error);
        Assert.IsNotEmpty(Directory.GetFiles(Path.Combine(output, "checkpoints"), "epoch-*.hsckpt"), cancelled.ToString());
        AssertNoOutputAndNoTemporaryFile(output, cancelled);

        // Resuming with other options is a usage error that names the difference.
        var mismatched = CliRunner.Run(args.Concat(new[] { "--resume", "--seed", "7" }).ToArray());
        Assert.AreEqual(2, mismatched.ExitCode, mismatched.ToString());
        Assert.Contains("--resume", mismatched.Error);
        Assert.Contains("Seed 42 → 7", mismatched.Error);
        var otherLayers = CliRunner.Run(withoutKeepDense.Concat(new[] { "--resume", "--keep-dense", "fc3" }).ToArray());
        Assert.AreEqual(2, otherLayers.ExitCode, otherLayers.ToString());
        Assert.Contains("KeepDenseLayers [\"conv1\"] → [\"fc3\"]", otherLayers.Error);

        var resumed = CliRunner.Run(args.Append("--resume").ToArray());
        Assert.AreEqual(0, resumed.ExitCode, resumed.ToString());
        Assert.Contains("Resumed from", resumed.Out);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var training = json.RootElement.GetProperty("training");
        Assert.AreEqual(7, training.GetProperty("Epochs").GetArrayLength(), "resume continues the same schedule");
        // conv1 (6×1×5×5) is kept dense; κ applies exactly to the other 61,320 weights.
        var conv1 = training.GetProperty("Layers")[0];
        Assert.AreEqual("conv1.weight", conv1.GetProperty("Name").GetString());
        Assert.IsTrue(conv1.GetProperty("KeptDense").GetBoolean());
        Assert.AreEqual(150, conv1.GetProperty("TrainedKept").GetInt64());
        Assert.AreEqual("Dense", conv1.GetProperty("Encoding").GetString());
        const long n = 61_470 - 150;
        Assert.AreEqual(n, training.GetProperty("PrunableWeights").GetInt64());
        Assert.AreEqual(n - (long)Math.Floor(0.9 * n) - 1, training.GetProperty("KeptWeights").GetInt64());
        Assert.Contains("conv1.weight — kept dense (excluded)", File.ReadAllText(Path.Combine(output, "report.md")));
        var inspect = CliRunner.Run("inspect", Path.Combine(output, "model.onnx"));
        Assert.Contains("* kept dense (excluded)", inspect.Out, inspect.ToString());
    }

    [TestMethod]
    public void Train_CtrlCAfterTrainingBeforeTheOutputs_WritesNothingAndResumeWritesThemWithoutTraining()
    {
        var output = Path.Combine(root, "cancelled-at-output");
        using var cancel = new CancellationTokenSource();
        // The CLI prints this line right before it writes the first output file.
        var writer = new WatchingWriter(line => { if (line.Contains("Writing model.zip", StringComparison.Ordinal)) cancel.Cancel(); });
        var args = new[] { "train", "--data", trainImages, "--out", output }.Concat(Tiny).ToArray();
        var cancelled = CliRunner.Run(args, writer, cancel.Token);
        Assert.AreEqual(130, cancelled.ExitCode, cancelled.ToString());
        StringAssert.Contains(cancelled.Error, "cancelled after training finished, before writing model.zip (no output written yet: the outputs appear together or not at all");
        StringAssert.Contains(cancelled.Error, "--resume");
        AssertNoOutputAndNoTemporaryFile(output, cancelled);

        var resumed = CliRunner.Run(args.Append("--resume").ToArray());
        Assert.AreEqual(0, resumed.ExitCode, resumed.ToString());
        StringAssert.Contains(resumed.Out, "Resumed from 'epoch-0007.hsckpt' at epoch 7", "all 7 epochs were done: nothing is trained again");
        Assert.IsFalse(resumed.Out.Contains("fine-tune   1/", StringComparison.Ordinal), resumed.Out);
        foreach (var file in new[] { "model.zip", "model.onnx", "report.md", "report.json", "training-curves.png", "layer-density.png", "Consume.cs" })
            Assert.IsTrue(File.Exists(Path.Combine(output, file)), file);
    }

    /// <summary>None of train's output files exists and no temporary file is left anywhere under the output folder.</summary>
    private static void AssertNoOutputAndNoTemporaryFile(string output, CliRunner.Result run)
    {
        foreach (var file in new[] { "model.zip", "model.onnx", "report.md", "report.json", "training-curves.png", "layer-density.png", "Consume.cs" })
            Assert.IsFalse(File.Exists(Path.Combine(output, file)), $"a cancelled run leaves no {file}\n{run}");
        Assert.IsEmpty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories), "no temporary file is left");
        foreach (var checkpoint in Directory.GetFiles(Path.Combine(output, "checkpoints")))
            StringAssert.Matches(Path.GetFileName(checkpoint), new System.Text.RegularExpressions.Regex(@"^epoch-\d{4}\.hsckpt$"), "only whole checkpoints");
    }

    public sealed class PathInput
    {
        public string ImagePath { get; set; } = "";
    }
}
