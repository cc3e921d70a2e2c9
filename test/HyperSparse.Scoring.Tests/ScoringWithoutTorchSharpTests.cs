using System.Globalization;
using ScoringSample;

namespace HyperSparse.Scoring.Tests;

/// <summary>A model.zip trained by the CLI, loaded and scored by an app that has ML.NET and ONNX Runtime but no TorchSharp.</summary>
[TestClass]
public sealed class ScoringWithoutTorchSharpTests
{
    [ClassCleanup]
    public static void Cleanup() => CliModel.Cleanup();

    [TestMethod]
    public void TestProcess_HasNoTorchSharpOrHyperSparseAssemblies()
    {
        using var scorer = new ImageScorer(CliModel.ModelZip);
        scorer.Score(CliModel.Images()[0]);
        var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").ToList();
        Assert.IsFalse(loaded.Any(n => n.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || n == "Microsoft.ML.HyperSparse"),
            "loaded: " + string.Join(", ", loaded.Where(n => n.Contains("Torch", StringComparison.OrdinalIgnoreCase) || n.Contains("HyperSparse", StringComparison.Ordinal))));
        var files = Directory.EnumerateFiles(AppContext.BaseDirectory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.IsFalse(files.Any(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase)), "no TorchSharp/libtorch file next to the scorer");
        Assert.IsFalse(files.Any(f => f == "Microsoft.ML.HyperSparse.dll"));
    }

    [TestMethod]
    public void ScoringSample_SameImages_SamePredictionsAsCli()
    {
        var images = CliModel.Images().Take(20).ToList();
        var cli = CliModel.RunCli(new[] { "predict", "--model", CliModel.ModelZip, "--json" }.Concat(images).ToArray());
        var expected = System.Text.Json.JsonDocument.Parse(cli).RootElement.EnumerateArray()
            .Select(e => (Label: e.GetProperty("label").GetString()!, Probabilities: e.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray()))
            .ToList();
        Assert.AreEqual(images.Count, expected.Count);
        using var scorer = new ImageScorer(CliModel.ModelZip);
        for (var i = 0; i < images.Count; i++)
        {
            var p = scorer.Score(images[i]);
            Assert.AreEqual(expected[i].Label, p.Label, images[i]);
            Assert.AreEqual(expected[i].Probabilities.Max(), p.Probability, 1e-6, images[i]);
        }
    }

    [TestMethod]
    public void ScoringSample_EightThreads_SameResultsAsSequential()
    {
        var images = CliModel.Images();
        using var scorer = new ImageScorer(CliModel.ModelZip);
        var sequential = images.Select(scorer.Score).ToList();
        var work = Enumerable.Range(0, 5).SelectMany(_ => Enumerable.Range(0, images.Count)).ToArray();
        var parallel = new ImagePrediction[work.Length];
        Parallel.For(0, work.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = scorer.Score(images[work[i]]));
        for (var i = 0; i < work.Length; i++)
        {
            var s = sequential[work[i]];
            Assert.AreEqual(s.Label, parallel[i].Label);
            Assert.AreEqual(s.Probability, parallel[i].Probability, 0f, $"image {work[i]}");
        }
        Assert.IsTrue(scorer.EnginesCreated <= 9, $"engines are pooled: {scorer.EnginesCreated} created for ≤ 8 concurrent callers");
        // The folder names are the true classes: a 0.9-sparse LeNet-5 on 600 images is far above chance (0.1).
        var correct = images.Zip(sequential).Count(x => Path.GetFileName(Path.GetDirectoryName(x.First)) == x.Second.Label);
        Assert.IsTrue(correct > 0.4 * images.Count, string.Create(CultureInfo.InvariantCulture, $"{correct} of {images.Count} correct"));
    }

    [TestMethod]
    public void ImageScorer_MissingOrCorruptModel_ClearError()
    {
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => new ImageScorer(missing));
        StringAssert.Contains(e.Message, missing);
        var corrupt = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".zip");
        File.WriteAllBytes(corrupt, File.ReadAllBytes(CliModel.ModelZip).AsSpan(0, 1000).ToArray());
        try
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => new ImageScorer(corrupt));
            StringAssert.Contains(error.Message, Path.GetFullPath(corrupt));
        }
        finally
        {
            File.Delete(corrupt);
        }
    }
}
