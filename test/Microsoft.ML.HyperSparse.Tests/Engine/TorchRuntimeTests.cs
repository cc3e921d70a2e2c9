using Microsoft.ML.HyperSparse.Engine.Native;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

[TestClass]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void TorchRuntime_EnsureLoaded_TorchComputes()
    {
        TorchRuntime.EnsureLoaded();
        using var a = ones(2, 3);
        Assert.AreEqual(6f, a.sum().item<float>());
    }

    [TestMethod]
    public void TorchRuntime_BackendPresent_TrueWithTorchSharpCpu()
    {
        // This project references TorchSharp-cpu, as an app that trains must (the package depends on TorchSharp only).
        // The other side, a clear error naming TorchSharp-cpu when no backend is referenced, is HyperSparse.Package.Tests'.
        Assert.IsTrue(TorchRuntime.BackendPresent());
    }

    [TestMethod]
    public void LibTorchSharpPatch_OutputCopy_IsWeakWhereSystemNeedsIt()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", LibTorchSharpPatch.FileName);
        if (!File.Exists(file)) file = Path.Combine(AppContext.BaseDirectory, LibTorchSharpPatch.FileName);
        Assert.IsTrue(File.Exists(file), "libLibTorchSharp.so not in the test output folder");
        if (LibTorchSharpPatch.SystemLibStdCxxLacksVersion())
            Assert.IsFalse(LibTorchSharpPatch.HasStrongRequirement(file), "build step did not mark GLIBCXX_3.4.32 weak");
    }

    [TestMethod]
    public void LibTorchSharpPatch_Apply_IsIdempotentAndTouchesTwoBytes()
    {
        var source = Directory.GetFiles(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", "torchsharp"),
            LibTorchSharpPatch.FileName, SearchOption.AllDirectories).FirstOrDefault();
        if (source is null) Assert.Inconclusive("TorchSharp package folder not found");
        var copy = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".so");
        try
        {
            File.Copy(source, copy);
            var before = File.ReadAllBytes(copy);
            Assert.IsTrue(LibTorchSharpPatch.HasStrongRequirement(copy));
            Assert.AreEqual(PatchOutcome.Patched, LibTorchSharpPatch.Apply(copy));
            Assert.AreEqual(PatchOutcome.AlreadyPatched, LibTorchSharpPatch.Apply(copy));
            var after = File.ReadAllBytes(copy);
            Assert.AreEqual(before.Length, after.Length);
            Assert.AreEqual(1, before.Zip(after).Count(p => p.First != p.Second), "exactly one byte (the low byte of vna_flags) changes");
            Assert.IsFalse(LibTorchSharpPatch.HasStrongRequirement(copy));
        }
        finally { File.Delete(copy); }
    }
}
