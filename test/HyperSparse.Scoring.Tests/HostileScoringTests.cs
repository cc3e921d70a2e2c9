using HyperSparse.TestSupport;
using ScoringSample;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// Hostile images for the scoring sample: every image passes the header-first pixel gate before ML.NET decodes it, the
/// batch mode lists the CLI's image extensions and never follows a folder link, and its options are checked.
/// </summary>
[TestClass]
public sealed class HostileScoringTests
{
    private static string work = "";

    [ClassInitialize]
    public static void Initialize(TestContext _) => work = Directory.CreateTempSubdirectory("hs-hostile-scoring-").FullName;

    [ClassCleanup]
    public static void Cleanup() => Directory.Delete(work, recursive: true);

    private static string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(work, Guid.NewGuid().ToString("N")[..8] + "-" + name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void ImageScorer_ImageAboveTheDefaultPixelLimit_RefusedBeforeDecodingNamingTheFileItsSizeAndTheLimit()
    {
        using var scorer = new ImageScorer(CliModel.ModelZip);
        // One column above 8192×8192: harmless to decode (268 MB), so without the gate ML.NET scores it and this fails.
        var above = Write("above.png", PngWriter.Zeros(8193, 8192));
        var error = Assert.ThrowsExactly<InvalidDataException>(() => scorer.Score(above));
        StringAssert.Contains(error.Message, Path.GetFullPath(above));
        StringAssert.Contains(error.Message, "8,193×8,192");
        StringAssert.Contains(error.Message, "67,108,864");

        // A header claiming 50000×50000 RGBA (9.3 GiB decoded, beyond 2^31 bytes) over a few bytes of data.
        var bomb = Write("bomb.png", PngWriter.Zeros(50_000, 50_000, colorType: 6, rows: 0));
        error = Assert.ThrowsExactly<InvalidDataException>(() => scorer.Score(bomb));
        StringAssert.Contains(error.Message, Path.GetFullPath(bomb));
        StringAssert.Contains(error.Message, "50,000×50,000");
        StringAssert.Contains(error.Message, "67,108,864");

        // Exactly at the limit is admitted, and the scorer still works after the refusals.
        var at = Write("at.png", PngWriter.Zeros(8192, 8192));
        CollectionAssert.Contains(scorer.ClassNames.ToList(), scorer.Score(at).Label);
    }

    [TestMethod]
    public void ImageScorer_MaxImagePixels_RefusesOnePixelAboveAdmitsAtTheLimitAndChecksItsValue()
    {
        var image = CliModel.Images()[0];   // 28×28 = 784 pixels
        using (var strict = new ImageScorer(CliModel.ModelZip, maxImagePixels: 783))
        {
            Assert.AreEqual(783, strict.MaxImagePixels);
            var error = Assert.ThrowsExactly<InvalidDataException>(() => strict.Score(image));
            StringAssert.Contains(error.Message, Path.GetFullPath(image));
            StringAssert.Contains(error.Message, "784 pixels");
            StringAssert.Contains(error.Message, "at most 783 pixels");
        }
        using (var exact = new ImageScorer(CliModel.ModelZip, maxImagePixels: 784))
            CollectionAssert.Contains(exact.ClassNames.ToList(), exact.Score(image).Label);
        using (var byDefault = new ImageScorer(CliModel.ModelZip))
            Assert.AreEqual(64L * 1024 * 1024, byDefault.MaxImagePixels);
        foreach (var bad in new[] { 0L, -1L, Array.MaxLength / 4 + 1L })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ImageScorer(CliModel.ModelZip, bad));
            Assert.AreEqual("maxImagePixels", e.ParamName);
            StringAssert.Contains(e.Message, "from 1 to 536,870,897");
        }
    }

    [TestMethod]
    public void ScoringSample_Folder_ScoresGifAndWebpLikeTheCliAndNeverFollowsAFolderLink()
    {
        var source = CliModel.Images()[0];
        var folder = Path.Combine(work, "folder-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.Copy(source, Path.Combine(folder, "a.png"));
        File.WriteAllBytes(Path.Combine(folder, "b.gif"), TestImages.GifOf(source));
        File.WriteAllBytes(Path.Combine(folder, "sub", "c.webp"), TestImages.WebpOf(source));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image");
        // Two links back up the tree: followed, they list the same images again and again.
        Directory.CreateSymbolicLink(Path.Combine(folder, "sub", "up"), folder);
        Directory.CreateSymbolicLink(Path.Combine(folder, "self"), ".");

        var (exit, stdout, stderr) = SampleProcess.Run(null, CliModel.ModelZip, folder);

        Assert.AreEqual(0, exit, stderr);
        var scored = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).ToList();
        CollectionAssert.AreEqual(
            new[] { Path.Combine(folder, "a.png"), Path.Combine(folder, "b.gif"), Path.Combine(folder, "sub", "c.webp") },
            scored, "each image once, the links not followed:\n" + stdout);
        StringAssert.Contains(stderr, "scored 3 images");
    }

    [TestMethod]
    [DataRow("0", DisplayName = "zero")]
    [DataRow("-1", DisplayName = "negative")]
    [DataRow("64M", DisplayName = "not a number")]
    [DataRow("536870898", DisplayName = "above the largest")]
    [DataRow(null, DisplayName = "missing")]
    public void ScoringSample_MaxImagePixelsOutOfRangeOrNotANumber_ExitTwoNamingTheOptionTheRangeAndTheText(string? value)
    {
        string[] args = value is null
            ? [CliModel.ModelZip, CliModel.Images()[0], "--max-image-pixels"]
            : [CliModel.ModelZip, "--max-image-pixels", value, CliModel.Images()[0]];
        var (exit, stdout, stderr) = SampleProcess.Run(null, args);
        Assert.AreEqual(2, exit, stderr);
        Assert.AreEqual("", stdout);
        StringAssert.Contains(stderr, "--max-image-pixels expects a number of pixels from 1 to 536,870,897");
        StringAssert.Contains(stderr, value is null ? "found nothing" : $"found '{value}'");
    }

    [TestMethod]
    public void ScoringSample_MaxImagePixels_RefusesALargerImageByNameAndScoresTheRest()
    {
        var small = CliModel.Images()[0];                               // 784 pixels
        var big = Write("big.png", PngWriter.Zeros(40, 40));         // 1,600 pixels
        var (exit, stdout, stderr) = SampleProcess.Run(null, CliModel.ModelZip, "--max-image-pixels", "1000", small, big);
        Assert.AreEqual(1, exit, stderr);
        StringAssert.StartsWith(stdout, small + "\t");
        StringAssert.Contains(stderr, Path.GetFullPath(big));
        StringAssert.Contains(stderr, "40×40 = 1,600 pixels");
        StringAssert.Contains(stderr, "at most 1,000 pixels");
        StringAssert.Contains(stderr, "1 of 2 images could not be scored");
    }
}
