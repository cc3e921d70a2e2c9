using System.Runtime.InteropServices;

namespace Microsoft.ML.HyperSparse.Engine.Native;

/// <summary>
/// Everything that must happen before the first TorchSharp call: the libstdc++ version guard and, when training, the
/// glibc allocator setting. Every engine entry point calls <see cref="EnsureLoaded"/> first.
/// </summary>
internal static class TorchRuntime
{
    /// <summary>Set to "0" to leave glibc's malloc settings alone.</summary>
    internal const string MallocTuningVariable = "HYPERSPARSE_MALLOC_TUNING";

    private static readonly object Gate = new();
    private static bool _loaded;
    private static bool _mallocTuned;

    /// <summary>
    /// Patches the application's copy of libLibTorchSharp.so when the system libstdc++ lacks GLIBCXX_3.4.32 (the build
    /// step normally did it already), then touches TorchSharp so a load failure surfaces here with a useful message.
    /// </summary>
    internal static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            if (LibTorchSharpPatch.SystemLibStdCxxLacksVersion())
            {
                foreach (var file in CandidateLibraryFiles())
                {
                    try
                    {
                        LibTorchSharpPatch.Apply(file);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        throw new InvalidOperationException(
                            $"TorchSharp's native library '{file}' needs GLIBCXX_3.4.32, which this system's libstdc++ " +
                            "lacks, and the file could not be patched in place (" + ex.Message + "). Build the application " +
                            "with the HyperSparse.MLNet package (its build step patches the output folder), or make the " +
                            "folder writable.", ex);
                    }
                }
            }
            try
            {
                _ = TorchSharp.torch.get_num_threads();
            }
            catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException)
            {
                // TorchSharp's own message ("doesn't contain a reference to libtorch-cpu-…") is the same whether the backend
                // package is missing or present but unloadable (Debian's libstdc++), so look for the files to tell which.
                if (!BackendPresent())
                    throw new InvalidOperationException(
                        "No libtorch backend was found next to the application. The HyperSparse.MLNet package depends on " +
                        "TorchSharp only and leaves the backend to the application that trains: add the TorchSharp-cpu package " +
                        $"(`dotnet add package TorchSharp-cpu --version {TorchSharpVersion}`), or a TorchSharp CUDA backend " +
                        "package where one exists. Apps that only score a saved model.zip need neither.", ex);
                throw new InvalidOperationException(
                    "TorchSharp's native libraries could not be loaded although a libtorch backend is present. Check that " +
                    "`ldd runtimes/linux-x64/native/libLibTorchSharp.so` in the output folder resolves every library.", ex);
            }
            _loaded = true;
        }
    }

    /// <summary>
    /// libtorch's activation buffers exceed glibc's default mmap threshold, so every step maps and unmaps them. Raising
    /// the threshold and disabling trimming keeps them in the heap (build/bench-step.sh with MALLOC_OFF=1: 2.05× faster LeNet-5 steps, 1.17× ResNet-20, on this class of
    /// machine). Applied once, on Linux, unless the caller or <see cref="MallocTuningVariable"/>=0 turns it off.
    /// </summary>
    internal static void TuneAllocatorForTraining(bool enabled)
    {
        if (!enabled || _mallocTuned || !OperatingSystem.IsLinux()) return;
        if (Environment.GetEnvironmentVariable(MallocTuningVariable) == "0") return;
        lock (Gate)
        {
            if (_mallocTuned) return;
            try
            {
                const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, int.MaxValue);
                mallopt(M_TOP_PAD, 256 << 20);
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                // musl and other libcs have no mallopt; training still works, only slower.
            }
            _mallocTuned = true;
        }
    }

    internal static bool AllocatorTuned => _mallocTuned;

    /// <summary>
    /// Hands the heap's free memory back to the OS (glibc malloc_trim). The tuning above keeps freed buffers for speed within
    /// an epoch; trimming once per epoch keeps the resident size at what training really holds, so it stays flat over a
    /// long run instead of sitting at the high-water mark of the busiest phase. No-op where glibc is absent.
    /// </summary>
    internal static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux() || _trimUnavailable) return;
        try
        {
            malloc_trim(0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _trimUnavailable = true;
        }
    }

    private static bool _trimUnavailable;

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    private static IEnumerable<string> CandidateLibraryFiles() =>
        NativeDirectories().Select(d => Path.Combine(d, LibTorchSharpPatch.FileName))
            .Distinct(StringComparer.Ordinal)
            .Where(f => File.Exists(f) && LibTorchSharpPatch.HasStrongRequirement(f));

    /// <summary>The TorchSharp release this library is built and tested against (named in the missing-backend error).</summary>
    internal const string TorchSharpVersion = "0.107.0";

    /// <summary>
    /// True when a libtorch backend's main library (libtorch_cpu.so / torch_cpu.dll / libtorch_cpu.dylib, which every CPU and
    /// CUDA backend ships) is in one of the directories the host probes for native libraries.
    /// </summary>
    internal static bool BackendPresent() =>
        NativeDirectories().Any(d => new[] { "libtorch_cpu.so", "torch_cpu.dll", "libtorch_cpu.dylib" }
            .Any(f => File.Exists(Path.Combine(d, f))));

    private static IEnumerable<string> NativeDirectories()
    {
        var dirs = new List<string> { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native") };
        // The host's own native probe list (deps.json) says where DllImport will look.
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string probe)
            dirs.AddRange(probe.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        return dirs.Distinct(StringComparer.Ordinal).Where(Directory.Exists);
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
