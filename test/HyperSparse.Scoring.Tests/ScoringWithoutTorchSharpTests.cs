using System.Globalization;
using ScoringSample;

namespace HyperSparse.Scoring.Tests;

/// <summary>A model.zip trained by the CLI, loaded and scored by an app that has ML.NET and ONNX Runtime but no TorchSharp.</summary>
[TestClass]
public sealed class ScoringWithoutTorchSharpTests
{
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

    /// <summary>
    /// A compressed model trained from ML.NET's ImageNet ResNet-18 scores in this process (no TorchSharp, no HyperSparse
    /// assembly) exactly as the CLI predicts: the grayscale image replicated to RGB and the pretrained preprocessing are inside
    /// the ONNX model.
    /// </summary>
    [TestMethod]
    public void ScoringSample_CompressedPretrainedModel_SamePredictionsAsCli_WithoutTorchSharp()
    {
        var images = CliModel.Images().Take(10).ToList();
        var cli = CliModel.RunCli(new[] { "predict", "--model", CliModel.PretrainedModelZip, "--json" }.Concat(images).ToArray());
        var expected = System.Text.Json.JsonDocument.Parse(cli).RootElement.EnumerateArray()
            .Select(e => (Label: e.GetProperty("label").GetString()!, Probabilities: e.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray()))
            .ToList();
        using var scorer = new ImageScorer(CliModel.PretrainedModelZip);
        for (var i = 0; i < images.Count; i++)
        {
            var p = scorer.Score(images[i]);
            Assert.AreEqual(expected[i].Label, p.Label, images[i]);
            Assert.AreEqual(expected[i].Probabilities.Max(), p.Probability, 1e-5, images[i]);
        }
        var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").ToList();
        Assert.IsFalse(loaded.Any(n => n.StartsWith("TorchSharp", StringComparison.Ordinal) || n.StartsWith("Microsoft.ML.HyperSparse", StringComparison.Ordinal)),
            string.Join(", ", loaded.Where(n => n.Contains("Torch") || n.Contains("HyperSparse"))));
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
    public void ScoringSample_EightThreadsOn10000Images_ExactlyTheSequentialResults()
    {
        var images = CliModel.Images();
        Assert.HasCount(10_000, images, "Fashion-MNIST's whole test split");
        using var scorer = new ImageScorer(CliModel.ModelZip);
        var sequential = images.Select(scorer.Score).ToList();

        // Eight dedicated threads (not the thread pool, which would start with fewer on 2 cores) take images from one
        // counter, all through the one loaded model; the peak number of threads inside Score at once is recorded.
        var parallel = new ImagePrediction?[images.Count];
        int next = -1, inside = 0, peak = 0;
        Exception? failure = null;
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                for (int i; (i = Interlocked.Increment(ref next)) < images.Count;)
                {
                    var now = Interlocked.Increment(ref inside);
                    for (int seen; now > (seen = Volatile.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen;) { }
                    parallel[i] = scorer.Score(images[i]);
                    Interlocked.Decrement(ref inside);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.IsNull(failure, failure?.ToString());

        for (var i = 0; i < images.Count; i++)
        {
            var s = sequential[i];
            var p = parallel[i]!;
            Assert.AreEqual(s.Label, p.Label, images[i]);
            Assert.HasCount(10, p.Scores, images[i]);
            CollectionAssert.AreEqual(s.Scores.ToArray(), p.Scores.ToArray(), $"every probability bit-identical: {images[i]}");
        }
        Assert.AreEqual(8, peak, "eight callers were inside Score at the same time");
        Assert.IsTrue(scorer.EnginesCreated is >= 2 and <= 9, $"engines are pooled: {scorer.EnginesCreated} created for ≤ 8 concurrent callers");
        // The folder names are the true classes: a 0.9-sparse LeNet-5 on 600 images is far above chance (0.1).
        var correct = images.Zip(sequential).Count(x => Path.GetFileName(Path.GetDirectoryName(x.First)) == x.Second.Label);
        Assert.IsTrue(correct > 0.4 * images.Count, string.Create(CultureInfo.InvariantCulture, $"{correct} of {images.Count} correct"));
    }

    [TestMethod]
    [DataRow("empty")]
    [DataRow("text")]
    public void ImageScorer_FileThatIsNotAnImage_InvalidDataNamingTheFile(string kind)
    {
        using var scorer = new ImageScorer(CliModel.ModelZip);
        var bad = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".png");
        if (kind == "empty") File.WriteAllBytes(bad, Array.Empty<byte>());
        else File.WriteAllText(bad, "not a picture");
        try
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => scorer.Score(bad));
            StringAssert.Contains(error.Message, Path.GetFullPath(bad));
            Assert.AreEqual(scorer.Score(CliModel.Images()[0]).Label, scorer.Score(CliModel.Images()[0]).Label, "the scorer keeps working");
        }
        finally
        {
            File.Delete(bad);
        }
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
