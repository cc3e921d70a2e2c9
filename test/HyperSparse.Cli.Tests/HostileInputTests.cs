using System.Text.Json;
using SkiaSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// Issue #6, hostile files and collapse through the CLI: image folders with bad files fail naming each file; skipped files
/// and class folders are reported; mixed sizes and colour modes train; corrupt models and images fail naming the file;
/// κ = 0.998 reports collapsed layers and --min-weights-per-layer prevents them. Tiny generated images, seconds each.
/// </summary>
[TestClass]
public sealed partial class HostileInputTests
{
    private static string root = null!;

    // One epoch per phase on a few dozen 28×28 images.
    private static readonly string[] Tiny = { "--warmup", "1", "--max-art", "1", "--finetune", "1", "--batch-size", "16", "--holdout", "0", "--plain" };

    [ClassInitialize]
    public static void MakeRoot(TestContext _) => root = CliRunner.TempFolder("hs-cli-hostile");

    [ClassCleanup]
    public static void Cleanup()
    {
        if (root is not null && Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    /// <summary>Writes a PNG whose pixels depend on the class (so the classes are learnable) and the index.</summary>
    private static void Png(string path, int width, int height, SKColorType type, int shade, int index)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, type, type == SKColorType.Gray8 ? SKAlphaType.Opaque : SKAlphaType.Premul));
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = (byte)Math.Clamp(shade + (x * 7 + y * 3 + index * 11) % 40, 0, 255);
                bitmap.SetPixel(x, y, new SKColor(v, v, v, 255));
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>Two grayscale classes "dark" and "light" of 12 images each.</summary>
    private static string Dataset(string name)
    {
        var dir = Path.Combine(root, name);
        for (var i = 0; i < 12; i++)
        {
            Png(Path.Combine(dir, "dark", $"{i:D2}.png"), 28, 28, SKColorType.Rgba8888, 20, i);
            Png(Path.Combine(dir, "light", $"{i:D2}.png"), 28, 28, SKColorType.Rgba8888, 190, i);
        }
        return dir;
    }

    private static CliRunner.Result Train(string data, string output, params string[] more) =>
        CliRunner.Run(new[] { "train", "--data", data, "--out", output }.Concat(Tiny).Concat(more).ToArray());

    [TestMethod]
    public void Train_FolderWithAnEmptyATextAndATruncatedImage_FailsNamingEachFileBeforeTraining()
    {
        var data = Dataset("bad-images");
        File.WriteAllBytes(Path.Combine(data, "dark", "empty.png"), Array.Empty<byte>());
        File.WriteAllText(Path.Combine(data, "dark", "notes-renamed.png"), "this is text, not a PNG");
        var good = File.ReadAllBytes(Path.Combine(data, "light", "00.png"));
        File.WriteAllBytes(Path.Combine(data, "light", "truncated.png"), good.AsSpan(0, good.Length / 2).ToArray());
        var output = Path.Combine(root, "bad-images-out");

        var result = Train(data, output);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        foreach (var expected in new[]
        {
            "3 of 27 images are unreadable",
            Path.Combine("dark", "empty.png") + "' (an empty file, 0 bytes)",
            Path.Combine("dark", "notes-renamed.png") + "' (not an image the decoder knows: 23 bytes",
            Path.Combine("light", "truncated.png") + "' (a 28×28 Png whose pixel data does not decode: truncated",
        })
            StringAssert.Contains(result.Error, expected, result.ToString());
        StringAssert.Contains(result.Error, data);
        Assert.IsFalse(Directory.Exists(Path.Combine(output, "checkpoints")) && Directory.GetFiles(Path.Combine(output, "checkpoints")).Length > 0, "no epoch ran");
        Assert.IsFalse(File.Exists(Path.Combine(output, "model.zip")));
    }

    [TestMethod]
    public void Train_FolderWithMixedSizesAndModesAnEmptyClassFolderAndANonImageFile_TrainsAndReportsWhatItSkipped()
    {
        var data = Dataset("mixed");
        Png(Path.Combine(data, "dark", "wide.png"), 60, 20, SKColorType.Rgba8888, 30, 1);
        Png(Path.Combine(data, "dark", "gray8.png"), 28, 28, SKColorType.Gray8, 25, 2);
        Png(Path.Combine(data, "light", "tiny-565.png"), 9, 13, SKColorType.Rgb565, 200, 3);
        using (var colour = new SKBitmap(10, 10))
        {
            colour.Erase(new SKColor(250, 10, 10));
            using var image = SKImage.FromBitmap(colour);
            using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, 90);
            File.WriteAllBytes(Path.Combine(data, "light", "red.jpg"), jpeg.ToArray());
        }
        Directory.CreateDirectory(Path.Combine(data, "unused-class"));
        File.WriteAllText(Path.Combine(data, "dark", "README.txt"), "notes");
        File.WriteAllText(Path.Combine(data, "dark", ".hidden"), "ignored without a note");
        var output = Path.Combine(root, "mixed-out");

        var result = Train(data, output);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Out, "skipped 1 class folder(s) without images: 'unused-class'");
        StringAssert.Contains(result.Out, "ignored 1 file(s) without an image extension");
        StringAssert.Contains(result.Out, Path.Combine("dark", "README.txt"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var run = json.RootElement.GetProperty("run");
        Assert.AreEqual(28, run.GetProperty("Data").GetProperty("TrainImages").GetInt32(), "24 + 4 mixed images, README and .hidden not counted");
        CollectionAssert.AreEqual(new[] { "dark", "light" }, run.GetProperty("Data").GetProperty("ClassNames").EnumerateArray().Select(e => e.GetString()).ToArray());
        Assert.AreEqual(3, run.GetProperty("Model").GetProperty("Channels").GetInt32(), "one colour image among grayscale ones: RGB");
        Assert.HasCount(2, run.GetProperty("Data").GetProperty("Notes").EnumerateArray().ToList());
    }

    [TestMethod]
    public void Predict_TruncatedImage_FailsNamingTheFile()
    {
        var model = TrainedModel();
        var good = Path.Combine(root, "predict", "good.png");
        Png(good, 28, 28, SKColorType.Rgba8888, 100, 0);
        var bytes = File.ReadAllBytes(good);
        var truncated = Path.Combine(root, "predict", "cut.png");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 40).ToArray());
        var result = CliRunner.Run("predict", "--model", model, good, truncated);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, "cut.png");
        StringAssert.Contains(result.Error, "does not decode");
        Assert.IsFalse(result.Error.Contains("good.png", StringComparison.Ordinal), "only the bad file is named");
    }

    [TestMethod]
    [DataRow("truncated")]
    [DataRow("empty")]
    [DataRow("onnx-inside-cut")]
    public void PredictAndEvaluate_CorruptModelZip_FailNamingTheFile(string kind)
    {
        var model = TrainedModel();
        var bad = Path.Combine(root, $"model-{kind}.zip");
        var bytes = File.ReadAllBytes(model);
        switch (kind)
        {
            case "truncated": File.WriteAllBytes(bad, bytes.AsSpan(0, bytes.Length / 2).ToArray()); break;
            case "empty": File.WriteAllBytes(bad, Array.Empty<byte>()); break;
            default: File.WriteAllBytes(bad, CutOnnxInside(bytes)); break;
        }
        var image = Directory.GetFiles(Path.Combine(root, "model-data", "dark")).First();
        var predict = CliRunner.Run("predict", "--model", bad, image);
        Assert.AreEqual(2, predict.ExitCode, predict.ToString());
        StringAssert.Contains(predict.Error, bad);
        // ML.NET loads transformers by reflection; its wrapper's text says nothing about the file.
        Assert.IsFalse(predict.Error.Contains("target of an invocation", StringComparison.Ordinal), predict.ToString());
        var evaluate = CliRunner.Run("evaluate", "--model", bad, "--data", Path.Combine(root, "model-data"));
        Assert.AreEqual(2, evaluate.ExitCode, evaluate.ToString());
        StringAssert.Contains(evaluate.Error, bad);
    }

    [TestMethod]
    public void Train_Kappa0998_ReportsCollapsedLayersAndMinWeightsPerLayerPreventsThem()
    {
        var data = Dataset("collapse");
        var paper = Train(data, Path.Combine(root, "collapse-paper"), "--sparsity", "0.998");
        Assert.AreEqual(0, paper.ExitCode, paper.ToString());
        StringAssert.Contains(paper.Out, "Layer collapse: 'fc1.weight'");
        var report = File.ReadAllText(Path.Combine(root, "collapse-paper", "report.md"));
        StringAssert.Contains(report, "**layer collapse**");
        StringAssert.Contains(report, "(collapsed)");
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "collapse-paper", "report.json"))))
            CollectionAssert.Contains(json.RootElement.GetProperty("training").GetProperty("CollapsedLayers").EnumerateArray().Select(e => e.GetString()).ToList(), "fc1.weight");

        var guarded = Train(data, Path.Combine(root, "collapse-guarded"), "--sparsity", "0.998", "--min-weights-per-layer", "5");
        Assert.AreEqual(0, guarded.ExitCode, guarded.ToString());
        Assert.IsFalse(guarded.Out.Contains("Layer collapse", StringComparison.Ordinal), guarded.Out);
        using var guardedJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "collapse-guarded", "report.json")));
        var training = guardedJson.RootElement.GetProperty("training");
        Assert.AreEqual(0, training.GetProperty("CollapsedLayers").GetArrayLength());
        Assert.IsTrue(training.GetProperty("Layers").EnumerateArray().All(l => l.GetProperty("TrainedKept").GetInt64() >= 5));
        var paperKept = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "collapse-paper", "report.json"))).RootElement.GetProperty("training").GetProperty("KeptWeights").GetInt64();
        Assert.AreEqual(paperKept, training.GetProperty("KeptWeights").GetInt64(), "the same total sparsity");
    }

    [TestMethod]
    public void Train_MinWeightsPerLayerThatKappaCannotPayFor_IsAUsageErrorBeforeTheFirstEpoch()
    {
        var data = Dataset("too-many");
        var result = Train(data, Path.Combine(root, "too-many-out"), "--sparsity", "0.998", "--min-weights-per-layer", "1000");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, "option --min-weights-per-layer: MinWeightsPerLayer 1000 needs");
        Assert.IsFalse(result.Out.Contains("warm-up     1/", StringComparison.Ordinal), "no epoch ran");
    }

    private static readonly Lazy<string> Model = new(() =>
    {
        var data = Dataset("model-data");
        var output = Path.Combine(root, "model");
        var result = Train(data, output);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        return Path.Combine(output, "model.zip");
    });

    private static string TrainedModel() => Model.Value;

    /// <summary>A model.zip whose zip structure is intact but whose ONNX entry is cut in half.</summary>
    private static byte[] CutOnnxInside(byte[] zip)
    {
        using var input = new MemoryStream(zip);
        using var output = new MemoryStream();
        using (var source = new System.IO.Compression.ZipArchive(input, System.IO.Compression.ZipArchiveMode.Read))
        using (var target = new System.IO.Compression.ZipArchive(output, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            var cut = false;
            foreach (var entry in source.Entries)
            {
                using var from = entry.Open();
                using var buffer = new MemoryStream();
                from.CopyTo(buffer);
                var content = buffer.ToArray();
                // ML.NET's OnnxTransformer stores the model bytes in an entry named "OnnxModel".
                if (!cut && entry.Name == "OnnxModel")
                {
                    content = content[..(content.Length / 2)];
                    cut = true;
                }
                using var to = target.CreateEntry(entry.FullName).Open();
                to.Write(content);
            }
            Assert.IsTrue(cut, "found the ONNX entry: " + string.Join(", ", source.Entries.Select(e => $"{e.FullName} {e.Length}")));
        }
        return output.ToArray();
    }
}
