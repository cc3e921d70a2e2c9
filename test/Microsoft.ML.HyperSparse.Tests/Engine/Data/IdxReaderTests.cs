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
}
