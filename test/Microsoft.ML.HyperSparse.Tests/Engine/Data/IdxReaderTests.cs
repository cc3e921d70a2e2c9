using Microsoft.ML.HyperSparse.Engine.Data;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Data;

[TestClass]
public sealed class IdxReaderTests
{
    private static (string images, string labels) WriteSynthetic(TempFolder folder, bool gzip, int n = 5, int h = 3, int w = 4, int classes = 3)
    {
        var (images, labels) = IdxTestFiles.Synthetic(n, h, w, classes);
        // Names deliberately do not say whether the file is gzipped: detection is by magic.
        var imagesPath = folder.File("images.idx");
        var labelsPath = folder.File("labels.idx");
        File.WriteAllBytes(imagesPath, gzip ? IdxTestFiles.Gzip(images) : images);
        File.WriteAllBytes(labelsPath, gzip ? IdxTestFiles.Gzip(labels) : labels);
        return (imagesPath, labelsPath);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxReader_ReadImageClassification_RoundTrips(bool gzip)
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip);
        var data = IdxReader.ReadImageClassification(images, labels);
        Assert.AreEqual(5, data.Count);
        Assert.AreEqual(1, data.Channels);
        Assert.AreEqual(3, data.Height);
        Assert.AreEqual(4, data.Width);
        Assert.AreEqual(3, data.ClassCount);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 0, 1 }, data.Labels);
        for (int i = 0; i < 5; i++)
            for (int p = 0; p < 12; p++)
                Assert.AreEqual((float)((i * 7 + p) % 256), data.Pixels[i * 12 + p]);
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_LimitAndClassCount()
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip: true);
        var data = IdxReader.ReadImageClassification(images, labels, limit: 2, classCount: 10);
        Assert.AreEqual(2, data.Count);
        Assert.AreEqual(10, data.ClassCount);
        Assert.AreEqual(24, data.Pixels.Length);
        Assert.AreEqual(7f, data.Pixels[12]);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxReader_ReadImageClassification_BadMagicNamesFile(bool gzip)
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip);
        var bytes = IdxTestFiles.Synthetic(5, 3, 4, 3).images;
        bytes[0] = 0x42;
        File.WriteAllBytes(images, gzip ? IdxTestFiles.Gzip(bytes) : bytes);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, "bad magic");
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_UnknownTypeIsBadMagic()
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip: false);
        var bytes = File.ReadAllBytes(labels);
        bytes[2] = 0x07;
        File.WriteAllBytes(labels, bytes);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        StringAssert.Contains(ex.Message, labels);
        StringAssert.Contains(ex.Message, "0x07");
    }

    [TestMethod]
    [DataRow(false, 2)]
    [DataRow(false, 9)]
    [DataRow(false, 30)]
    [DataRow(true, 2)]
    [DataRow(true, 30)]
    public void IdxReader_ReadImageClassification_TruncatedNamesFile(bool gzip, int keepBytes)
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip);
        var bytes = IdxTestFiles.Synthetic(5, 3, 4, 3).images[..keepBytes];
        File.WriteAllBytes(images, gzip ? IdxTestFiles.Gzip(bytes) : bytes);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, "truncated");
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_TruncatedGzipStreamNamesFile()
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip: true, n: 200, h: 28, w: 28);
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        StringAssert.Contains(ex.Message, images);
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_CountMismatchNamesBothFiles()
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip: false);
        File.WriteAllBytes(labels, IdxTestFiles.UnsignedBytes([4], [0, 1, 2, 0]));
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        StringAssert.Contains(ex.Message, images);
        StringAssert.Contains(ex.Message, labels);
        StringAssert.Contains(ex.Message, "5 images");
        StringAssert.Contains(ex.Message, "4 labels");
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_LabelAboveClassCountNamesFile()
    {
        using var folder = new TempFolder();
        var (images, labels) = WriteSynthetic(folder, gzip: false);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels, classCount: 2));
        StringAssert.Contains(ex.Message, labels);
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_RealFashionMnistSlice()
    {
        var directory = FashionMnist.TryLocate();
        if (directory is null) Assert.Inconclusive("Fashion-MNIST directory not found (install dataset-fashion-mnist or set " + FashionMnist.DirectoryVariable + ")");
        var data = FashionMnist.Read(directory, train: true, limit: 100);
        Assert.AreEqual(100, data.Count);
        Assert.AreEqual(1, data.Channels);
        Assert.AreEqual(28, data.Height);
        Assert.AreEqual(28, data.Width);
        Assert.AreEqual(10, data.ClassCount);
        Assert.AreEqual(9, data.Labels[0], "the first Fashion-MNIST training image is an ankle boot");
        Assert.IsTrue(data.Pixels.All(p => p >= 0 && p <= 255 && p == MathF.Floor(p)));
        Assert.IsTrue(data.Pixels.Max() == 255f);
        Assert.IsTrue(data.ClassCounts().Count(c => c > 0) >= 8, "100 images cover most classes");

        var test = FashionMnist.Read(directory, train: false, limit: 100);
        Assert.AreEqual(100, test.Count);
        Assert.AreEqual(9, test.Labels[0]);
    }

    [TestMethod]
    public void FashionMnist_TryLocate_EnvironmentVariableOverrides()
    {
        var previous = Environment.GetEnvironmentVariable(FashionMnist.DirectoryVariable);
        try
        {
            using var folder = new TempFolder();
            Environment.SetEnvironmentVariable(FashionMnist.DirectoryVariable, folder.Path);
            Assert.AreEqual(folder.Path, FashionMnist.TryLocate());
            Environment.SetEnvironmentVariable(FashionMnist.DirectoryVariable, folder.File("missing"));
            Assert.IsNull(FashionMnist.TryLocate());
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.DirectoryVariable, previous);
        }
    }

    /// <summary>Writes an unsigned-byte IDX file whose header says <paramref name="dims"/> but which holds <paramref name="data"/>.</summary>
    private static string WriteCrafted(TempFolder folder, string name, int[] dims, byte[] data, bool gzip)
    {
        var bytes = IdxTestFiles.UnsignedBytes(dims, data);
        var path = folder.File(name);
        File.WriteAllBytes(path, gzip ? IdxTestFiles.Gzip(bytes) : bytes);
        return path;
    }

    /// <summary>60,000 labels 0..9 (a valid label file for a 60,000-image header).</summary>
    private static string SixtyThousandLabels(TempFolder folder) =>
        WriteCrafted(folder, "labels.idx", [60_000], Enumerable.Range(0, 60_000).Select(i => (byte)(i % 10)).ToArray(), gzip: false);

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxReader_ReadImageClassification_HeaderCountsMoreThanTheFileHolds_SaysBothSizes(bool gzip)
    {
        using var folder = new TempFolder();
        var labels = SixtyThousandLabels(folder);
        var images = WriteCrafted(folder, "images.idx", [60_000, 28, 28], new byte[1_000 - 16], gzip);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        Assert.AreEqual($"IDX image file '{images}': the header says 60,000 images of 28×28, i.e. 47,040,016 bytes with the 16-byte header; " +
                        (gzip ? "the decompressed data ends after 1,000 bytes — truncated." : "the file holds 1,000 bytes — truncated."), ex.Message);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void IdxReader_ReadImageClassification_BytesBeyondWhatTheHeaderSays_IsAnError(bool gzip)
    {
        using var folder = new TempFolder();
        var (imageBytes, _) = IdxTestFiles.Synthetic(5, 3, 4, 3);
        var (_, labels) = WriteSynthetic(folder, gzip);
        var images = folder.File("images.idx");
        var longer = imageBytes.Concat(new byte[] { 1, 2, 3, 4, 5 }).ToArray();
        File.WriteAllBytes(images, gzip ? IdxTestFiles.Gzip(longer) : longer);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        Assert.AreEqual($"IDX image file '{images}': the header says 5 images of 3×4, i.e. 76 bytes with the 16-byte header; " +
                        (gzip ? "the decompressed data goes on after that — more bytes than the header accounts for." : "the file holds 81 bytes — 5 more than the header accounts for."),
                        ex.Message);
    }

    [TestMethod]
    [DataRow(new[] { 5, 0, 4 }, 5, "the header says 0 rows per image (5×0×4); expected at least 1.")]
    [DataRow(new[] { 5, 3, 0 }, 5, "the header says 0 columns per image (5×3×0); expected at least 1.")]
    [DataRow(new[] { 5, 0, 3, 4 }, 5, "the header says 0 channels per image (5×0×3×4); expected at least 1.")]
    [DataRow(new[] { 0, 3, 4 }, 0, "label")]
    public void IdxReader_ReadImageClassification_ZeroDimension_NamesTheFileAndTheDimension(int[] imageDims, int labelCount, string expected)
    {
        using var folder = new TempFolder();
        var labels = WriteCrafted(folder, "labels.idx", [labelCount], Enumerable.Range(0, labelCount).Select(i => (byte)(i % 2)).ToArray(), gzip: false);
        var images = WriteCrafted(folder, "images.idx", imageDims, [], gzip: false);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels));
        Assert.AreEqual(expected == "label"
            ? $"IDX label file '{labels}': the header says 0 labels (0); expected at least 1."
            : $"IDX image file '{images}': {expected}", ex.Message);
    }

    [TestMethod]
    public void IdxReader_ReadImageClassification_HostileHeaderSizes_FailBeforeAllocating()
    {
        using var folder = new TempFolder();
        var labels = WriteCrafted(folder, "labels.idx", [2], [0, 1], gzip: false);

        // One image of 100,000 × 100,000 pixels: beyond the per-image bound, whatever the file holds.
        var huge = WriteCrafted(folder, "huge.idx", [2, 100_000, 100_000], new byte[10], gzip: true);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(huge, labels));
        Assert.AreEqual($"IDX image file '{huge}': the header says images of 100000×100000 = 10,000,000,000 pixels; expected at most 67,108,864 per image.", ex.Message);

        // Gzipped, so the length is unknown up front: 100 images of 4096×4096 are 1.7 G values, beyond what is read into memory.
        var many = WriteCrafted(folder, "many.idx", [100, 4096, 4096], new byte[10], gzip: true);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.Read(many, null, out _, "image"));
        Assert.AreEqual($"IDX image file '{many}': 100×4096×4096 = 1,677,721,600 values to read; expected at most 536,870,912 (2 GiB as float32). Read fewer items.", ex.Message);

        // Dimensions whose product passes 2^63 are refused, not wrapped around to a small size.
        var wrap = WriteCrafted(folder, "wrap.idx", [int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue], [], gzip: false);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.Read(wrap, null, out _));
        Assert.AreEqual($"IDX file '{wrap}': the header's dimensions 2147483647×2147483647×2147483647×2147483647 multiply beyond 2^63 bytes.", ex.Message);

        // 20 gzipped images of 4096×4096 (335 M values) that hold 10 bytes: the truncation is found without a 1.3 GB array.
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var short20 = WriteCrafted(folder, "short.idx", [20, 4096, 4096], new byte[10], gzip: true);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.Read(short20, null, out _, "image"));
        StringAssert.EndsWith(ex.Message, "the decompressed data ends after 26 bytes — truncated.");
        Assert.IsLessThan(64L << 20, GC.GetTotalAllocatedBytes(precise: true) - before, "allocated for a 10-byte file");
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow(10)]
    public void IdxReader_ReadImageClassification_StrayLabelLeavingClassesEmpty_NamesTheLabelItsRowAndTheGap(int? limit)
    {
        // Labels 0..9, and one byte of 200 at row 17: without the rule this trains a 201-class model. A limit that stops
        // before row 17 does not hide it (the whole label file is checked).
        using var folder = new TempFolder();
        var labelBytes = Enumerable.Range(0, 30).Select(i => (byte)(i % 10)).ToArray();
        labelBytes[17] = 200;
        var labels = WriteCrafted(folder, "labels.idx", [30], labelBytes, gzip: false);
        var images = WriteCrafted(folder, "images.idx", [30, 2, 2], new byte[120], gzip: false);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels, limit));
        Assert.AreEqual($"IDX label file '{labels}': expected labels 0..K−1 with every class present (K = 201 from the largest label 200), " +
                        "found label 200 at row 17 while labels 10..199 never occur.", ex.Message);

        // A single missing class is named as one label.
        labelBytes[17] = 7;
        for (int i = 0; i < 30; i++) if (labelBytes[i] == 5) labelBytes[i] = 6;
        labels = WriteCrafted(folder, "labels.idx", [30], labelBytes, gzip: false);
        ex = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.ReadImageClassification(images, labels, limit));
        StringAssert.EndsWith(ex.Message, "found label 6 at row 5 while label 5 never occurs.");
    }
}
