using HyperSparse.TestSupport;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;

namespace HyperSparse.Package.Tests;

/// <summary>
/// The packages as a .NET team adopts them: HyperSparse.MLNet and the HyperSparse.Cli tool are packed (Release) into a local
/// folder, then used from outside the repo — a fresh console app that references HyperSparse.MLNet and TorchSharp-cpu only,
/// and the tool installed with `dotnet tool install`. The machine's configured NuGet source serves every other package.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    private const string Version = "0.1.0";
    private static string work = "";
    private static string feed = "";

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static void PackIntoLocalFeed(TestContext _)
    {
        work = Path.Combine(Path.GetTempPath(), "hs-package-" + Guid.NewGuid().ToString("N")[..8]);
        feed = Path.Combine(work, "feed");
        Directory.CreateDirectory(feed);
        var root = RepoRoot();
        // build/test.sh built the solution in Release already, so the library packs without building again; the tool packs
        // one package per platform, each published for its runtime, so it builds.
        Pack(Path.Combine(root, "src", "Microsoft.ML.HyperSparse", "Microsoft.ML.HyperSparse.csproj"), "--no-build");
        Pack(Path.Combine(root, "src", "Samples", "HyperSparse.Cli", "HyperSparse.Cli.csproj"));
    }

    [ClassCleanup]
    public static void RemoveTempFolder()
    {
        try { if (work.Length > 0) Directory.Delete(work, recursive: true); }
        catch (IOException) { } // a file still held open; the temp folder is the OS's to clean
    }

    [TestMethod]
    public void LibraryPackage_Metadata_PublishableAndOnlyWhatTheLibraryNeeds()
    {
        using var package = ZipFile.OpenRead(Path.Combine(feed, $"HyperSparse.MLNet.{Version}.nupkg"));
        var nuspec = XDocument.Load(package.GetEntry("HyperSparse.MLNet.nuspec")!.Open());
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        string Meta(string name) => metadata.Element(ns + name)?.Value ?? "";
        Assert.AreEqual("HyperSparse.MLNet", Meta("id"));
        Assert.AreEqual(Version, Meta("version"));
        Assert.AreEqual("HyperSparse.MLNet contributors", Meta("authors"));
        Assert.AreEqual("MIT", Meta("license"));
        Assert.AreEqual("PACKAGE.md", Meta("readme"));
        Assert.AreEqual("git", metadata.Element(ns + "repository")?.Attribute("type")?.Value);
        Assert.IsFalse(string.IsNullOrWhiteSpace(Meta("description")));
        Assert.IsFalse(string.IsNullOrWhiteSpace(Meta("tags")));

        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        CollectionAssert.Contains(dependencies, "TorchSharp");
        CollectionAssert.Contains(dependencies, "Microsoft.ML");
        CollectionAssert.Contains(dependencies, "Microsoft.ML.OnnxTransformer");
        // The app picks the libtorch backend; the library decodes no images.
        foreach (var unwanted in new[] { "TorchSharp-cpu", "Microsoft.ML.ImageAnalytics", "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies" })
            CollectionAssert.DoesNotContain(dependencies, unwanted);

        var files = package.Entries.Select(e => e.FullName).ToList();
        foreach (var expected in new[] { "PACKAGE.md", "lib/net10.0/Microsoft.ML.HyperSparse.dll", "lib/net10.0/Microsoft.ML.HyperSparse.xml",
                     "buildTransitive/HyperSparse.MLNet.targets", "buildTransitive/LibTorchSharpPatch.cs" })
            CollectionAssert.Contains(files, expected);
        Assert.IsTrue(File.Exists(Path.Combine(feed, $"HyperSparse.MLNet.{Version}.snupkg")), "no symbol package");
    }

    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void LibraryPackage_FreshConsoleApp_TrainsSavesLoadsAndScores()
    {
        var app = CreateConsumer("consumer", withBackend: true);
        var (exit, output) = Dotnet(app, "run", "--no-build", "-c", "Release", "--", app);
        Assert.AreEqual(0, exit, "the consumer app failed:\n" + Tail(output));
        StringAssert.Matches(output, new System.Text.RegularExpressions.Regex(@"^predicted: (bright|dark)\r?$", System.Text.RegularExpressions.RegexOptions.Multiline));
        Assert.IsTrue(File.Exists(Path.Combine(app, "model.zip")));
    }

    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void LibraryPackage_AppWithoutBackend_ErrorNamesTorchSharpCpu()
    {
        var app = CreateConsumer("no-backend", withBackend: false);
        var (exit, output) = Dotnet(app, "run", "--no-build", "-c", "Release", "--", app);
        Assert.AreEqual(3, exit, "expected training to be refused:\n" + Tail(output));
        StringAssert.Contains(output, "No libtorch backend");
        StringAssert.Contains(output, "add the TorchSharp-cpu package");
    }

    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void CliToolPackage_Installed_HelpAndTrainWork()
    {
        var tools = Path.Combine(work, "tools");
        var (exit, output) = Dotnet(work, "tool", "install", "--tool-path", tools, "--add-source", feed, "HyperSparse.Cli", "--version", Version);
        Assert.AreEqual(0, exit, "dotnet tool install failed:\n" + Tail(output));
        var hypersparse = Path.Combine(tools, OperatingSystem.IsWindows() ? "hypersparse.exe" : "hypersparse");

        (exit, output) = Run(hypersparse, work, "--help");
        Assert.AreEqual(0, exit, "hypersparse --help failed:\n" + Tail(output));
        StringAssert.Contains(output, "train");

        var data = Path.Combine(work, "images");
        foreach (var (label, bright) in new[] { ("bright", true), ("dark", false) })
        {
            Directory.CreateDirectory(Path.Combine(data, label));
            for (var i = 0; i < 12; i++)
                File.WriteAllBytes(Path.Combine(data, label, $"{i:D2}.png"), PngWriter.Gray(8, 8, (x, y) => (byte)((y < 4) == bright ? 220 - i : 30 + i)));
        }
        var model = Path.Combine(work, "model");
        (exit, output) = Run(hypersparse, work, "train", "--data", data, "--out", model, "--arch", "mlp", "--image-size", "8",
            "--warmup", "1", "--max-art", "1", "--finetune", "1", "--holdout", "0", "--plain", "--threads", "1");
        Assert.AreEqual(0, exit, "hypersparse train failed:\n" + Tail(output));
        Assert.IsTrue(File.Exists(Path.Combine(model, "model.zip")), "no model.zip:\n" + Tail(output));
    }

    /// <summary>
    /// A console project in its own folder under the temp folder (outside the repo, so none of its props, targets or
    /// central versions apply), restored against the local feed and built.
    /// </summary>
    private string CreateConsumer(string name, bool withBackend)
    {
        var app = Path.Combine(work, name);
        Directory.CreateDirectory(app);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Consumer", "Program.cs.txt"), Path.Combine(app, "Program.cs"));
        File.WriteAllText(Path.Combine(app, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="HyperSparse.MLNet" Version="{Version}" />
                {(withBackend ? """<PackageReference Include="TorchSharp-cpu" Version="0.107.0" />""" : "")}
              </ItemGroup>
            </Project>
            """);
        // Adds the local folder as a source beside the machine's configured ones (no <clear/>): those serve ML.NET,
        // TorchSharp and the rest.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="hypersparse-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        // The packages restore into a folder of this run, so a HyperSparse.MLNet 0.1.0 packed by an earlier run and kept in
        // the machine's global cache cannot stand in for this one; everything else comes from that cache as a read-only
        // fallback instead of being extracted again (libtorch alone is 1.2 GB unpacked).
        var packages = Path.Combine(work, "packages");
        var (exit, output) = Dotnet(app, "restore", "-p:RestorePackagesPath=" + packages,
            "-p:RestoreFallbackFolders=" + GlobalPackagesFolder());
        Assert.AreEqual(0, exit, $"restore of {name} failed:\n" + Tail(output));
        Assert.IsTrue(Directory.Exists(Path.Combine(packages, "hypersparse.mlnet", Version)),
            "HyperSparse.MLNet was not taken from the local feed (a copy in the global packages folder shadows it?):\n" + Tail(output));
        (exit, output) = Dotnet(app, "build", "--no-restore", "-c", "Release", "-nologo", "-v", "q");
        Assert.AreEqual(0, exit, $"build of {name} failed:\n" + Tail(output));
        return app;
    }

    private static void Pack(string project, params string[] extra)
    {
        var (exit, output) = Dotnet(Path.GetDirectoryName(project)!,
            new[] { "pack", project, "-c", "Release", "-o", feed, "-nologo", "-v", "q" }.Concat(extra).ToArray());
        Assert.AreEqual(0, exit, $"dotnet pack {Path.GetFileName(project)} failed:\n" + Tail(output));
    }

    private static string GlobalPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static (int Exit, string Output) Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args);

    private static (int Exit, string Output) Run(string fileName, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's MSBuild settings would leak into the child builds.
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment.Remove("MSBuildSDKsPath");
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after 10 min: {fileName} {string.Join(' ', args)}\n{output}");
        }
        process.WaitForExit(); // drains the output events
        lock (output) return (process.ExitCode, output.ToString());
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HyperSparse.MLNet.sln"))) return dir.FullName;
        throw new InvalidOperationException("HyperSparse.MLNet.sln not found above " + AppContext.BaseDirectory);
    }
}
