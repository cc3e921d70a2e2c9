using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Tests.Engine.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Checkpoints;

[TestClass]
public sealed class CheckpointFileTests
{
    private const string Metadata = "{\"epoch\":3,\"name\":\"résumé ✓\"}";

    internal static List<KeyValuePair<string, Tensor>> SampleTensors() =>
    [
        new("conv.weight", arange(0, 24, dtype: ScalarType.Float32).reshape(2, 3, 4)),
        new("bn.num_batches_tracked", tensor(1234567890123L)),
        new("mask", tensor(new[] { true, false, true, true, false, false }).reshape(3, 2)),
        new("float_mask", tensor(new[] { 1f, 0f, 1f })),
        new("scalar", tensor(2.5f)),
        new("empty", zeros(new long[] { 0, 5 }, ScalarType.Float32)),
        new("empty_long", zeros(new long[] { 0 }, ScalarType.Int64)),
        new("ids", tensor(new long[] { -1, 0, long.MaxValue, long.MinValue })),
    ];

    private static void Dispose(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        foreach (var pair in tensors) pair.Value.Dispose();
    }

    internal static void WriteSample(string path)
    {
        var tensors = SampleTensors();
        try { CheckpointFile.Write(path, Metadata, tensors); }
        finally { Dispose(tensors); }
    }

    [TestInitialize]
    public void Load() => TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void CheckpointFile_WriteRead_RoundTripsTypesShapesAndMetadata()
    {
        using var folder = new TempFolder();
        var path = folder.File("a.hsckpt");
        var written = SampleTensors();
        try
        {
            CheckpointFile.Write(path, Metadata, written);
            using var read = CheckpointFile.Read(path);
            Assert.AreEqual(Metadata, read.MetadataJson);
            CollectionAssert.AreEqual(written.Select(p => p.Key).ToArray(), read.Tensors.Select(p => p.Key).ToArray());
            for (int i = 0; i < written.Count; i++)
            {
                var (expected, actual) = (written[i].Value, read.Tensors[i].Value);
                Assert.AreEqual(expected.dtype, actual.dtype, written[i].Key);
                CollectionAssert.AreEqual(expected.shape, actual.shape, written[i].Key);
                CollectionAssert.AreEqual(expected.bytes.ToArray(), actual.bytes.ToArray(), written[i].Key);
            }
            Assert.AreEqual(0, read["scalar"].ndim);
            Assert.AreEqual(2.5f, read["scalar"].item<float>());
            Assert.AreEqual(1234567890123L, read["bn.num_batches_tracked"].item<long>());
            CollectionAssert.AreEqual(new[] { true, false, true, true, false, false }, read["mask"].data<bool>().ToArray());
            Assert.AreEqual(0, read["empty"].numel());
            Assert.AreEqual(0, Directory.GetFiles(folder.Path).Count(f => f.EndsWith(".tmp")), "no temp file left");
        }
        finally { Dispose(written); }
    }

    [TestMethod]
    public void CheckpointFile_Write_NonContiguousTensorStoresLogicalOrder()
    {
        using var folder = new TempFolder();
        var path = folder.File("t.hsckpt");
        using var matrix = arange(0, 6, dtype: ScalarType.Float32).reshape(2, 3);
        using var transposed = matrix.t();
        CheckpointFile.Write(path, "{}", [new("t", transposed)]);
        using var read = CheckpointFile.Read(path);
        CollectionAssert.AreEqual(new long[] { 3, 2 }, read["t"].shape);
        CollectionAssert.AreEqual(new float[] { 0, 3, 1, 4, 2, 5 }, read["t"].data<float>().ToArray());
    }

    [TestMethod]
    public void CheckpointFile_Write_ReplacesExistingFile()
    {
        using var folder = new TempFolder();
        var path = folder.File("a.hsckpt");
        WriteSample(path);
        using var one = tensor(1f);
        CheckpointFile.Write(path, "{\"second\":true}", [new("x", one)]);
        using var read = CheckpointFile.Read(path);
        Assert.AreEqual("{\"second\":true}", read.MetadataJson);
        Assert.AreEqual(1, read.Tensors.Count);
        Assert.AreEqual(1, Directory.GetFiles(folder.Path).Length);
    }

    [TestMethod]
    public void CheckpointFile_Read_TruncatedAtAnyOffsetThrowsNamingFile()
    {
        using var folder = new TempFolder();
        var path = folder.File("full.hsckpt");
        WriteSample(path);
        var bytes = File.ReadAllBytes(path);
        var cut = folder.File("cut.hsckpt");
        foreach (int length in new[] { 0, 3, 8, 15, 20, 40, bytes.Length / 2, bytes.Length - 33, bytes.Length - 32, bytes.Length - 1 })
        {
            File.WriteAllBytes(cut, bytes[..length]);
            var ex = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(cut), $"cut at {length}");
            StringAssert.Contains(ex.Message, cut);
            StringAssert.Contains(ex.Message, "truncated", $"cut at {length}: {ex.Message}");
        }
    }

    [TestMethod]
    public void CheckpointFile_Read_FlippedByteIsChecksumMismatch()
    {
        using var folder = new TempFolder();
        var path = folder.File("a.hsckpt");
        WriteSample(path);
        var original = File.ReadAllBytes(path);
        foreach (int offset in new[] { 30, original.Length / 2, original.Length - 40, original.Length - 1 })
        {
            var bytes = (byte[])original.Clone();
            bytes[offset] ^= 0x10;
            File.WriteAllBytes(path, bytes);
            var ex = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path));
            StringAssert.Contains(ex.Message, path);
            StringAssert.Contains(ex.Message, "checksum", ex.Message);
        }
    }

    [TestMethod]
    public void CheckpointFile_Read_BadMagicAndVersionAndTrailingData()
    {
        using var folder = new TempFolder();
        var path = folder.File("a.hsckpt");
        WriteSample(path);
        var original = File.ReadAllBytes(path);

        var bytes = (byte[])original.Clone();
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path)).Message, "bad magic");

        bytes = (byte[])original.Clone();
        bytes[8] = 99;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path));
        StringAssert.Contains(ex.Message, "unsupported format version 99");
        StringAssert.Contains(ex.Message, path);

        File.WriteAllBytes(path, [.. original, 0]);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => CheckpointFile.Read(path)).Message, "trailing");
    }

    [TestMethod]
    public void CheckpointFile_Write_MissingDirectoryThrowsAndLeavesNothing()
    {
        using var folder = new TempFolder();
        var missing = folder.File("missing");
        var tensors = SampleTensors();
        try
        {
            var ex = Assert.ThrowsExactly<DirectoryNotFoundException>(() => CheckpointFile.Write(Path.Combine(missing, "a.hsckpt"), "{}", tensors));
            StringAssert.Contains(ex.Message, missing);
        }
        finally { Dispose(tensors); }
        Assert.IsFalse(Directory.Exists(missing));
        Assert.AreEqual(0, Directory.GetFileSystemEntries(folder.Path).Length);
    }

    [TestMethod]
    public void CheckpointFile_Write_FailureLeavesOldFileAndNoTemp()
    {
        using var folder = new TempFolder();
        var path = folder.File("a.hsckpt");
        WriteSample(path);
        var before = File.ReadAllBytes(path);
        using var complex = zeros(new long[] { 2 }, ScalarType.ComplexFloat32);
        Assert.ThrowsExactly<ArgumentException>(() => CheckpointFile.Write(path, "{}", [new("c", complex)]));
        CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
        Assert.AreEqual(1, Directory.GetFiles(folder.Path).Length, "no temp file left");
    }
}
