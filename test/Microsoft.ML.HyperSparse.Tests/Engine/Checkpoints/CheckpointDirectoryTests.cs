using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Tests.Engine.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine.Checkpoints;

[TestClass]
public sealed class CheckpointDirectoryTests
{
    [TestInitialize]
    public void Load() => TorchRuntime.EnsureLoaded();

    private static void Save(CheckpointDirectory directory, int epoch)
    {
        using var value = tensor((float)epoch);
        directory.Save(epoch, $"{{\"epoch\":{epoch}}}", [new("value", value)]);
    }

    [TestMethod]
    public void CheckpointDirectory_PathForEpoch_ZeroPadded()
    {
        var directory = new CheckpointDirectory("/tmp/run");
        Assert.AreEqual(Path.Combine("/tmp/run", "epoch-0007.hsckpt"), directory.PathForEpoch(7));
        Assert.AreEqual(Path.Combine("/tmp/run", "epoch-12345.hsckpt"), directory.PathForEpoch(12345));
    }

    [TestMethod]
    public void CheckpointDirectory_ExistingNewestFirst_OrdersByEpochAndIgnoresOtherFiles()
    {
        using var folder = new TempFolder();
        var directory = new CheckpointDirectory(folder.File("run"));
        Assert.AreEqual(0, directory.ExistingNewestFirst().Count(), "missing folder");
        foreach (int epoch in new[] { 2, 10, 9, 1 }) Save(directory, epoch);
        File.WriteAllText(Path.Combine(directory.Folder, "notes.txt"), "x");
        File.WriteAllText(Path.Combine(directory.Folder, ".epoch-0011.hsckpt.abc.tmp"), "x");
        File.WriteAllText(Path.Combine(directory.Folder, "epoch-x.hsckpt"), "x");
        CollectionAssert.AreEqual(new[] { 10, 9, 2, 1 }.Select(directory.PathForEpoch).ToArray(), directory.ExistingNewestFirst().ToArray());
    }

    [TestMethod]
    public void CheckpointDirectory_TryLoadLatest_LoadsNewest()
    {
        using var folder = new TempFolder();
        var directory = new CheckpointDirectory(folder.Path);
        Assert.IsFalse(directory.TryLoadLatest(out var none, out var noWarnings));
        Assert.IsNull(none);
        Assert.AreEqual(0, noWarnings.Count);
        Save(directory, 1);
        Save(directory, 2);
        Assert.IsTrue(directory.TryLoadLatest(out var loaded, out var warnings));
        using (loaded)
        {
            Assert.AreEqual(2, loaded.Epoch);
            Assert.AreEqual(directory.PathForEpoch(2), loaded.Path);
            Assert.AreEqual(2f, loaded.Data["value"].item<float>());
            Assert.AreEqual(0, warnings.Count);
        }
    }

    [TestMethod]
    public void CheckpointDirectory_TryLoadLatest_FallsBackPastCorruptAndTruncatedFiles()
    {
        using var folder = new TempFolder();
        var directory = new CheckpointDirectory(folder.Path);
        for (int epoch = 1; epoch <= 4; epoch++) Save(directory, epoch);
        var newest = directory.PathForEpoch(4);
        var bytes = File.ReadAllBytes(newest);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(newest, bytes);
        var third = directory.PathForEpoch(3);
        File.WriteAllBytes(third, File.ReadAllBytes(third)[..20]);

        Assert.IsTrue(directory.TryLoadLatest(out var loaded, out var warnings));
        using (loaded)
        {
            Assert.AreEqual(2, loaded.Epoch);
            Assert.AreEqual(2f, loaded.Data["value"].item<float>());
        }
        Assert.AreEqual(2, warnings.Count);
        StringAssert.Contains(warnings[0], newest);
        StringAssert.Contains(warnings[0], "checksum");
        StringAssert.Contains(warnings[1], third);
        StringAssert.Contains(warnings[1], "truncated");
    }

    [TestMethod]
    public void CheckpointDirectory_TryLoadLatest_AllCorruptReturnsFalseWithWarnings()
    {
        using var folder = new TempFolder();
        var directory = new CheckpointDirectory(folder.Path);
        Save(directory, 1);
        File.WriteAllBytes(directory.PathForEpoch(1), [1, 2, 3]);
        Assert.IsFalse(directory.TryLoadLatest(out var loaded, out var warnings));
        Assert.IsNull(loaded);
        Assert.AreEqual(1, warnings.Count);
        StringAssert.Contains(warnings[0], "bad magic");
    }

    [TestMethod]
    public void CheckpointDirectory_Prune_KeepsNewest()
    {
        using var folder = new TempFolder();
        var directory = new CheckpointDirectory(folder.Path);
        for (int epoch = 0; epoch < 5; epoch++) Save(directory, epoch);
        var deleted = directory.Prune(keepLast: 2);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2 }.Select(directory.PathForEpoch).ToArray(), deleted.ToArray());
        CollectionAssert.AreEqual(new[] { 4, 3 }.Select(directory.PathForEpoch).ToArray(), directory.ExistingNewestFirst().ToArray());
        Assert.AreEqual(0, directory.Prune().Count);
        Assert.AreEqual(2, directory.Prune(keepLast: 0).Count);
        Assert.AreEqual(0, directory.ExistingNewestFirst().Count());
    }
}
