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
}
