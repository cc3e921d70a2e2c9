using System.Diagnostics;
using System.Text.RegularExpressions;

namespace HyperSparse.Bench.Tests;

/// <summary>
/// `build/bench.sh --quick` end to end (tiny schedules, every section): the script, the bench program and the report renderer
/// stay runnable. What it measures is not asserted (quick schedules train for seconds); that every table and row appears is.
/// </summary>
[TestClass]
public sealed class BenchScriptTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void BenchSh_Quick_WritesEveryTableFromItsRows()
    {
        string root = RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "hs-bench-quick-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        try
        {
            // Fresh folders: nothing cached from an earlier run, so every row trains and measures.
            var env = new Dictionary<string, string>
            {
                ["OUT_DIR"] = Path.Combine(work, "out"),
                ["MODELS"] = Path.Combine(work, "models"),
                ["ACC_WORK"] = Path.Combine(work, "accuracy"),
            };
            (int exit, string output) = Run(root, "build/bench.sh", ["--quick"], env);
            Assert.AreEqual(0, exit, "build/bench.sh --quick failed:\n" + Tail(output));

            string report = File.ReadAllText(Path.Combine(work, "out", "benchmarks.md"));
            StringAssert.Contains(report, "## Accuracy vs sparsity");
            StringAssert.Contains(report, "## Model size");
            StringAssert.Contains(report, "## Scoring latency");
            StringAssert.Contains(report, "Command: `build/bench.sh --quick`");
            foreach (string method in new[] { "dense", "HS-ART", "L1-ART", "one-shot magnitude" })
                Assert.IsTrue(Regex.IsMatch(report, $@"^\| (0|0\.98) \| {Regex.Escape(method)} \| 1 \| \d+\.\d\d \|", RegexOptions.Multiline),
                    $"no accuracy row for {method}:\n{report}");
            Assert.IsTrue(Regex.IsMatch(report, @"^\| LeNet-5 \| 0\.98 \| [\d,]+ of 61,470 \|", RegexOptions.Multiline), "no LeNet-5 size row:\n" + report);
            Assert.IsTrue(Regex.IsMatch(report, @"^\| ResNet-20 \| 0\.98 \| [\d,]+ of 270,608 \|", RegexOptions.Multiline), "no ResNet-20 size row:\n" + report);
            Assert.IsTrue(Regex.IsMatch(report, @"^\| LeNet-5 \| 0\.98 \| Compact \| [\d,]+ \|", RegexOptions.Multiline), "no LeNet-5 latency row:\n" + report);
            // Issue #22's speed rows: four files of LeNet-5 and of the pretrained ResNet-18, each with its accuracy and timings.
            StringAssert.Contains(report, "## Scoring speed: float vs int8 (issue #22)");
            foreach (string net in new[] { "LeNet-5", "ResNet-18 pretrained" })
                foreach (string file in new[] { "dense float", "Compact float", "int8 weights", "int8 full" })
                    Assert.IsTrue(Regex.IsMatch(report, $@"^\| {Regex.Escape(net)} \| 0\.98 \| {Regex.Escape(file)} \| [\d,]+ \| \d+\.\d\d % \|", RegexOptions.Multiline),
                        $"no speed row for {net} {file}:\n{report}");
            foreach (string rows in new[] { "benchmarks-accuracy.jsonl", "benchmarks-size.jsonl", "benchmarks-latency.jsonl", "benchmarks-speed.jsonl" })
                Assert.IsTrue(File.ReadAllLines(Path.Combine(work, "out", rows)).Length > 0, rows + " is empty");

            // A rerun finds every row cached: nothing trains again, and the report is the same but for nothing.
            (exit, output) = Run(root, "build/bench.sh", ["--quick", "accuracy"], env);
            Assert.AreEqual(0, exit, "rerun failed:\n" + Tail(output));
            Assert.AreEqual(4, Regex.Matches(output, "^accuracy: cached: ", RegexOptions.Multiline).Count, "rerun retrained a row:\n" + Tail(output));

            // Two units at a time (ACC_JOBS=2, one thread each): seed 1 is cached whatever its thread count, seed 2 trains
            // beside it; each unit (dense, HS-ART → magnitude, L1-ART) logs to its own file and every row records how it ran.
            env["ACC_JOBS"] = "2";
            env["ACC_SEEDS"] = "1 2";
            (exit, output) = Run(root, "build/bench.sh", ["--quick", "accuracy"], env);
            Assert.AreEqual(0, exit, "parallel run failed:\n" + Tail(output));
            string logs = Path.Combine(work, "accuracy", "logs");
            string Log(string name) => File.ReadAllText(Path.Combine(logs, name + ".log"));
            Assert.AreEqual(4, new[] { "lenet5-s1-dense", "lenet5-s1-hs-k0.98", "lenet5-s1-l1-k0.98" }
                    .Sum(name => Regex.Matches(Log(name), "^accuracy: cached: ", RegexOptions.Multiline).Count),
                "seed 1 retrained under another thread count");
            StringAssert.Contains(Log("lenet5-s2-hs-k0.98"), "one-shot magnitude seed 2", "magnitude runs after HS-ART in the same unit");
            StringAssert.Contains(Log("lenet5-s2-l1-k0.98"), "seed 2");
            var accuracyRows = File.ReadAllLines(Path.Combine(work, "out", "benchmarks-accuracy.jsonl"));
            Assert.AreEqual(8, accuracyRows.Length, "two seeds × four rows");
            Assert.AreEqual(4, accuracyRows.Count(r => r.Contains("\"Threads\":1,", StringComparison.Ordinal) && r.Contains("\"Jobs\":2", StringComparison.Ordinal)),
                "the seed-2 rows record 1 thread × 2 at a time:\n" + string.Join("\n", accuracyRows));
            report = File.ReadAllText(Path.Combine(work, "out", "benchmarks.md"));
            StringAssert.Contains(report, "libtorch threads × rows run at once: 2 × 1 (4 rows), 1 × 2 (4 rows)");
            Assert.IsTrue(Regex.IsMatch(report, @"^- Machine: \d+ logical CPUs \(nproc\), .+ \(8 rows\); ", RegexOptions.Multiline),
                "every row records the machine it ran on:\n" + report);
            Assert.IsTrue(Regex.IsMatch(report, @"^\| 0\.98 \| HS-ART \| 2 \| \d+\.\d\d ± \d+\.\d\d \|", RegexOptions.Multiline), "no two-seed HS-ART row:\n" + report);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private (int Exit, string Output) Run(string root, string script, string[] args, Dictionary<string, string> env)
    {
        var info = new ProcessStartInfo("bash") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        foreach (string a in args) info.ArgumentList.Add(a);
        foreach ((string k, string v) in env) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            process.WaitForExitAsync(TestContext.CancellationToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        process.WaitForExit();
        TestContext.WriteLine(Tail(output.ToString()));
        return (process.ExitCode, output.ToString());
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "HyperSparse.MLNet.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new AssertFailedException($"HyperSparse.MLNet.sln not found above '{AppContext.BaseDirectory}'.");
    }
}
