using System.Buffers.Binary;
using System.IO.Compression;
using HyperSparse.Cli.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace HyperSparse.Cli.Tests;

/// <summary>IDX reading (raw and gzipped) and the in-memory image view, on small hand-made files.</summary>
[TestClass]
public sealed class DataTests
{
    private static string root = null!;

    [ClassInitialize]
    public static void MakeRoot(TestContext _) => root = CliRunner.TempFolder("hs-cli-data");

    [ClassCleanup]
    public static void Cleanup()
    {
        if (root is not null && Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    private static void WriteIdx(string path, int[] dims, byte[] data, bool gzip)
    {
        using var file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write(new byte[] { 0, 0, 0x08, (byte)dims.Length });
        var buffer = new byte[4];
        foreach (var d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(buffer, d);
            stream.Write(buffer);
        }
        stream.Write(data);
    }

    /// <summary>Three 16×12 images (pixel value = image index·10 + row) with labels 0, 2, 1.</summary>
    private static string MakeIdx(string name, bool gzip)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        const int n = 3, h = 16, w = 12;
        var pixels = new byte[n * h * w];
        for (var i = 0; i < n; i++)
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    pixels[(i * h + y) * w + x] = (byte)(i * 10 + y);
        var ext = gzip ? ".gz" : "";
        WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte" + ext), new[] { n, h, w }, pixels, gzip);
        WriteIdx(Path.Combine(dir, "train-labels-idx1-ubyte" + ext), new[] { n }, new byte[] { 0, 2, 1 }, gzip);
        return dir;
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxFolder_Read_RawAndGzipped(bool gzip)
    {
        var idx = IdxFolder.TryOpen(MakeIdx(gzip ? "gz" : "raw", gzip));
        Assert.IsNotNull(idx);
        Assert.IsTrue(idx.HasSplit("train"));
        Assert.IsFalse(idx.HasSplit("test"));
        var images = idx.Read("train", limit: 2);
        Assert.AreEqual(2, images.Count);
        Assert.AreEqual((16, 12), (images.Height, images.Width));
        CollectionAssert.AreEqual(new byte[] { 0, 2 }, images.Labels);
        Assert.AreEqual(10 + 5, images.Image(1)[5 * 12 + 3]);
        Assert.AreEqual("digits", idx.GuessClassNames());
    }

    [TestMethod]
    public void InMemoryView_NonSquareIdx_GivesTheSamePixelsAsTheFile()
    {
        var idx = IdxFolder.TryOpen(MakeIdx("view", gzip: false))!;
        var images = idx.Read("train", null);
        var ml = new MLContext(1);
        var view = Views.InMemory(ml, images, IdxFolder.ClassNames("digits", 3), new[] { 0, 1, 2 });
        var features = ml.Transforms.ResizeImages("Image", 12, 16)
            .Append(ml.Transforms.ExtractPixels("Features", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
            .Fit(view).Transform(view);
        var rows = features.GetColumn<float[]>("Features").ToList();
        var labels = features.GetColumn<string>("LabelText").ToList();
        CollectionAssert.AreEqual(new[] { "0", "2", "1" }, labels);
        Assert.AreEqual(15f, rows[1][5 * 12 + 3], "ExtractPixels (CHW) sees the IDX byte");
    }

    [TestMethod]
    public void ClassNames_FashionAndDigits()
    {
        Assert.AreEqual("Ankle-boot", IdxFolder.ClassNames("fashion", 10)[9]);
        CollectionAssert.AreEqual(new[] { "0", "1", "2" }, IdxFolder.ClassNames("digits", 3));
    }

    /// <summary>A folder holding the given IDX files (name → header dimensions and data bytes, gzipped when the name ends in .gz).</summary>
    private static string Folder(string name, params (string File, int[] Dims, byte[] Data)[] files)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        foreach (var (file, dims, data) in files) WriteIdx(Path.Combine(dir, file), dims, data, file.EndsWith(".gz", StringComparison.Ordinal));
        return dir;
    }

    private static byte[] Labels(int count, int classes = 10) => Enumerable.Range(0, count).Select(i => (byte)(i % classes)).ToArray();

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxFolder_Read_HeaderCountsMoreImagesThanTheFileHolds_SaysBothSizes(bool gzip)
    {
        // Before: "Unable to read beyond the end of the stream", naming neither the file nor the sizes.
        var ext = gzip ? ".gz" : "";
        var dir = Folder("overcount-" + gzip, ("train-images-idx3-ubyte" + ext, new[] { 60_000, 28, 28 }, new byte[1_000 - 16]),
            ("train-labels-idx1-ubyte" + ext, new[] { 60_000 }, Labels(60_000)));
        var images = Path.Combine(dir, "train-images-idx3-ubyte" + ext);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        Assert.AreEqual($"IDX image file '{images}': the header says 60,000 images of 28×28, i.e. 47,040,016 bytes with the 16-byte header; " +
                        (gzip ? "the decompressed data ends after 1,000 bytes — truncated." : "the file holds 1,000 bytes — truncated."), ex.Message);

        // A label file cut short says the same about its labels.
        dir = Folder("shortlabels-" + gzip, ("train-images-idx3-ubyte" + ext, new[] { 3, 2, 2 }, new byte[12]),
            ("train-labels-idx1-ubyte" + ext, new[] { 3 }, new byte[] { 0 }));
        var labels = Path.Combine(dir, "train-labels-idx1-ubyte" + ext);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        Assert.AreEqual($"IDX label file '{labels}': the header says 3 labels, i.e. 11 bytes with the 8-byte header; " +
                        (gzip ? "the decompressed data ends after 9 bytes — truncated." : "the file holds 9 bytes — truncated."), ex.Message);
    }

    [TestMethod]
    public void IdxFolder_Read_ExtraBytesOrACutHeader_AreNamed()
    {
        var dir = Folder("extra", ("train-images-idx3-ubyte", new[] { 2, 2, 2 }, new byte[8 + 3]), ("train-labels-idx1-ubyte", new[] { 2 }, new byte[] { 0, 1 }));
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        StringAssert.EndsWith(ex.Message, "the header says 2 images of 2×2, i.e. 24 bytes with the 16-byte header; the file holds 27 bytes — 3 more than the header accounts for.");

        dir = Folder("cut", ("train-labels-idx1-ubyte", new[] { 2 }, new byte[] { 0, 1 }));
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), new byte[] { 0, 0, 8, 3, 0, 0 });
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        Assert.AreEqual($"IDX image file '{Path.Combine(dir, "train-images-idx3-ubyte")}': the file ends after 6 bytes, inside the header — truncated.", ex.Message);
    }

    [TestMethod]
    [DataRow(0, 28, 28, "image", "the header says 0 images (0×28×28); expected at least 1.")]
    [DataRow(3, 0, 28, "image", "the header says 0 rows per image (3×0×28); expected at least 1.")]
    [DataRow(3, 28, 0, "image", "the header says 0 columns per image (3×28×0); expected at least 1.")]
    [DataRow(3, 100_000, 100_000, "image", "the header says images of 100000×100000 = 10,000,000,000 pixels; expected at most 67,108,864 per image.")]
    public void IdxFolder_Read_ZeroOrHugeDimensions_NameTheFileAndTheDimensionBeforeAllocating(int n, int h, int w, string kind, string expected)
    {
        var dir = Folder($"dims-{n}-{h}-{w}", ("train-images-idx3-ubyte.gz", new[] { n, h, w }, new byte[10]), ("train-labels-idx1-ubyte", new[] { 3 }, new byte[] { 0, 1, 2 }));
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        Assert.AreEqual($"IDX {kind} file '{Path.Combine(dir, "train-images-idx3-ubyte.gz")}': {expected}", ex.Message);

        dir = Folder($"nolabels-{n}-{h}-{w}", ("train-images-idx3-ubyte", new[] { 1, 2, 2 }, new byte[4]), ("train-labels-idx1-ubyte", new[] { 0 }, Array.Empty<byte>()));
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxFolder.TryOpen(dir)!.Read("train", null));
        Assert.AreEqual($"IDX label file '{Path.Combine(dir, "train-labels-idx1-ubyte")}': the header says 0 labels (0); expected at least 1.", ex.Message);
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow(5)]
    public void IdxFolder_Read_StrayLabelLeavingClassesEmpty_IsAUsageErrorNamingTheFileTheLabelAndItsRow(int? limit)
    {
        // Labels 0..9 and one byte of 200 at row 17 of the training labels: without the check a 201-class model is trained.
        // --limit 5 stops before row 17 but does not hide it: the whole label files are checked.
        var train = Labels(30);
        train[17] = 200;
        var dir = Folder("stray-" + limit, ("train-images-idx3-ubyte", new[] { 30, 2, 2 }, new byte[120]), ("train-labels-idx1-ubyte", new[] { 30 }, train),
            ("t10k-images-idx3-ubyte", new[] { 10, 2, 2 }, new byte[40]), ("t10k-labels-idx1-ubyte", new[] { 10 }, Labels(10)));
        var trainLabels = Path.Combine(dir, "train-labels-idx1-ubyte");
        var ex = Assert.ThrowsExactly<UsageException>(() => IdxFolder.TryOpen(dir)!.Read("train", limit));
        Assert.AreEqual($"IDX label file '{trainLabels}': expected labels 0..K−1 with every class present (K = 201 from the largest label 200), " +
                        $"found label 200 at row 17 while labels 10..199 never occur in '{trainLabels}' or '{Path.Combine(dir, "t10k-labels-idx1-ubyte")}'.", ex.Message);
        Assert.ThrowsExactly<UsageException>(() => IdxFolder.TryOpen(dir)!.Read("test", limit), "reading the test split checks the same files");

        // A class present only in the test labels counts as present.
        train[17] = 3;
        var classes = Labels(10);
        for (var i = 0; i < train.Length; i++) if (train[i] == 9) train[i] = 8;
        dir = Folder("split-classes-" + limit, ("train-images-idx3-ubyte", new[] { 30, 2, 2 }, new byte[120]), ("train-labels-idx1-ubyte", new[] { 30 }, train),
            ("t10k-images-idx3-ubyte", new[] { 10, 2, 2 }, new byte[40]), ("t10k-labels-idx1-ubyte", new[] { 10 }, classes));
        Assert.AreEqual(limit ?? 30, IdxFolder.TryOpen(dir)!.Read("train", limit).Count);
    }
}
