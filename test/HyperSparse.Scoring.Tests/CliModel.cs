using System.Diagnostics;
using System.Reflection;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// Trains a small model with the HyperSparse CLI in a child process (the only place TorchSharp runs), once per test run,
/// and exports Fashion-MNIST's whole test split (10,000 images) as PNG files to score.
/// </summary>
internal static class CliModel
{
    private static readonly Lazy<(string ModelZip, string ImageFolder, string WorkFolder)> Built = new(Build);

    public static string ModelZip => Built.Value.ModelZip;

    private static readonly Lazy<string> BuiltPretrained = new(BuildPretrained);

    /// <summary>
    /// A compressed pretrained model: ML.NET's ImageNet ResNet-18 (the CLI ships it), one epoch per phase on 60 grayscale
    /// images at 32×32, κ 0.98 — its model.zip holds the replicated-grayscale input and the baked-in preprocessing.
    /// </summary>
    public static string PretrainedModelZip => BuiltPretrained.Value;
    public static string ImageFolder => Built.Value.ImageFolder;

    /// <summary>The Fashion-MNIST IDX folder (Debian's dataset-fashion-mnist), or the override in HYPERSPARSE_FASHION_MNIST_DIR.</summary>
    public static string FashionMnist
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable("HYPERSPARSE_FASHION_MNIST_DIR") is { Length: > 0 } env ? env : "/usr/share/datasets/fashion-mnist";
            return File.Exists(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")) || File.Exists(Path.Combine(dir, "t10k-images-idx3-ubyte"))
                ? dir
                : throw new AssertFailedException($"Fashion-MNIST not found in '{dir}': run build/test.sh (it installs Debian's dataset-fashion-mnist).");
        }
    }

    public static IReadOnlyList<string> Images() =>
        Directory.EnumerateFiles(ImageFolder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    /// <summary>Runs the CLI (<c>dotnet HyperSparse.Cli.dll args</c>); throws with its output when it fails.</summary>
    public static string RunCli(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll());
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["COLUMNS"] = "250";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new AssertFailedException($"hypersparse {string.Join(' ', args)} exited with {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }

    private static (string, string, string) Build()
    {
        var work = Path.Combine(Path.GetTempPath(), "hs-scoring-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var images = Path.Combine(work, "images");
        var model = Path.Combine(work, "model");
        RunCli("export-images", "--idx", FashionMnist, "--split", "test", "--out", images);
        RunCli("train", "--data", FashionMnist, "--limit", "600", "--arch", "lenet5", "--sparsity", "0.9", "--profile", "quick",
            "--seed", "1", "--out", model);
        return (Path.Combine(model, "model.zip"), images, work);
    }

    private static string BuildPretrained()
    {
        var model = Path.Combine(Built.Value.WorkFolder, "pretrained-model");
        RunCli("train", "--data", FashionMnist, "--limit", "60", "--pretrained", "imagenet", "--image-size", "32", "--sparsity", "0.98",
            "--warmup", "1", "--max-art", "1", "--finetune", "1", "--batch-size", "30", "--crop-padding", "0", "--seed", "1", "--out", model);
        return Path.Combine(model, "model.zip");
    }

    public static void Cleanup()
    {
        if (Built.IsValueCreated && Directory.Exists(Built.Value.WorkFolder)) Directory.Delete(Built.Value.WorkFolder, recursive: true);
    }

    /// <summary>The CLI built next to this test assembly's configuration (build/test.sh builds the whole solution first).</summary>
    private static string CliDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "HyperSparse.MLNet.sln"))) dir = dir.Parent;
        if (dir is null) throw new AssertFailedException($"HyperSparse.MLNet.sln not found above '{AppContext.BaseDirectory}'.");
        var configuration = typeof(CliModel).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(dir.FullName, "src", "Samples", "HyperSparse.Cli", "bin", configuration, "net10.0", "HyperSparse.Cli.dll");
        return File.Exists(dll) ? dll : throw new AssertFailedException($"The CLI is not built: '{dll}' is missing. Build the solution first (build/test.sh does).");
    }
}
