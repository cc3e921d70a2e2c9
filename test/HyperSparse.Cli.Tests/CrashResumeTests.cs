using System.Diagnostics;
using System.Text.Json;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// Issue #6, crash resume: `hypersparse train` in a child process killed with SIGKILL in the middle of an epoch (no
/// cancellation, no cleanup, nothing flushed), then the same command with --resume. The resumed run must start from the
/// last checkpoint written before the kill (losing at most the epoch in flight) and end with exactly the model of an
/// uninterrupted run with the same seed.
/// </summary>
[TestClass]
public sealed class CrashResumeTests
{
    // Fashion-MNIST IDX, first 1,000 train and test images; 3 + 3 + 3 epochs, each a fraction of a second of work.
    // Two libtorch threads, as on the 2-core machines: the same thread count gives bit-identical results run to run
    // (ArtTrainer_Train_ResumeAfterInterruption_EqualsUninterruptedRun shows it in-process; this test across processes).
    private static string[] Args(string idx, string output) => new[]
    {
        "train", "--data", idx, "--out", output, "--limit", "1000", "--arch", "lenet5", "--sparsity", "0.9",
        "--warmup", "3", "--max-art", "3", "--finetune", "3", "--batch-size", "32", "--lr", "0.05", "--lambda-init", "2e-4",
        "--lambda-growth", "1.5", "--threads", "2", "--seed", "5", "--plain",
    };

    [TestMethod]
    public void Train_KilledWithSigkillMidEpoch_ResumeLosesAtMostTheEpochInFlightAndEqualsAnUninterruptedRun()
    {
        var idx = CliRunner.FashionMnist();
        var root = CliRunner.TempFolder("hs-cli-crash");
        try
        {
            var reference = Path.Combine(root, "reference");
            var (code, output) = RunToEnd(Args(idx, reference));
            Assert.AreEqual(0, code, output);

            // The kill: as soon as the checkpoint of epoch 4 (1-based; the first ART epoch) is on disk, the child is in
            // epoch 5 — SIGKILL it there.
            var crashed = Path.Combine(root, "crashed");
            var checkpoints = Path.Combine(crashed, "checkpoints");
            var trigger = Path.Combine(checkpoints, "epoch-0004.hsckpt");
            using (var child = Start(Args(idx, crashed)))
            {
                var watch = Stopwatch.StartNew();
                while (!File.Exists(trigger) && !child.HasExited && watch.Elapsed < TimeSpan.FromMinutes(5)) Thread.Sleep(2);
                Assert.IsFalse(child.HasExited, $"the child ended before epoch 4's checkpoint appeared (exit {(child.HasExited ? child.ExitCode : 0)})");
                child.Kill(entireProcessTree: true);   // SIGKILL on Linux: no handler runs
                child.WaitForExit();
                Assert.AreEqual(137, child.ExitCode, "killed by SIGKILL (128 + 9)");
            }
            var newest = Directory.GetFiles(checkpoints, "epoch-*.hsckpt").Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!;
            // Normally epoch-0004; epoch-0005 only if the kill landed after that epoch's checkpoint was renamed into place.
            CollectionAssert.Contains(new[] { "epoch-0004.hsckpt", "epoch-0005.hsckpt" }, newest);
            Assert.IsFalse(File.Exists(Path.Combine(crashed, "model.zip")), "a killed run writes no model");

            var (resumedCode, resumedOutput) = RunToEnd(Args(idx, crashed).Append("--resume").ToArray());
            Assert.AreEqual(0, resumedCode, resumedOutput);
            var resumedEpoch = int.Parse(newest["epoch-".Length..^".hsckpt".Length], System.Globalization.CultureInfo.InvariantCulture);
            StringAssert.Contains(resumedOutput, $"Resumed from '{newest}' at epoch {resumedEpoch}");

            using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(reference, "report.json")));
            using var actual = JsonDocument.Parse(File.ReadAllText(Path.Combine(crashed, "report.json")));
            var expectedEpochs = expected.RootElement.GetProperty("training").GetProperty("Epochs");
            var actualEpochs = actual.RootElement.GetProperty("training").GetProperty("Epochs");
            Assert.AreEqual(expectedEpochs.GetArrayLength(), actualEpochs.GetArrayLength(), "the same schedule, no epoch repeated or lost");
            for (var e = 0; e < expectedEpochs.GetArrayLength(); e++)
                Assert.AreEqual(expectedEpochs[e].GetProperty("TrainLoss").GetDouble(), actualEpochs[e].GetProperty("TrainLoss").GetDouble(), $"epoch {e + 1} loss");
            // model.onnx holds every weight and nothing run-specific (no time stamps): equal bytes mean equal weights.
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(reference, "model.onnx")), File.ReadAllBytes(Path.Combine(crashed, "model.onnx")),
                "the resumed run's model equals the uninterrupted run's");
            Assert.IsEmpty(Directory.GetFiles(crashed, "*.tmp", SearchOption.AllDirectories), "no temporary file is left");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HyperSparse.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        var process = Process.Start(start)!;
        // Drain both pipes so the child never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static (int ExitCode, string Output) RunToEnd(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HyperSparse.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + "\n--- stderr ---\n" + stderr.Result);
    }
}
