using HyperSparse.TestSupport;
using System.Text.Json;
using HyperSparse.Cli.Data;
using HyperSparse.Cli.Output;
using HyperSparse.Cli.Commands;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// Hostile inputs, second round: images whose decoded size overflows or bombs, a locked or shared --out, outputs that
/// must appear as one set, write targets that are not regular files, folder symlinks, colour images on grayscale models,
/// silent option surprises and messages that must name the culprit. Every input is crafted at test time and small.
/// </summary>
public sealed partial class HostileInputTests
{
    // ---- crafted PNGs (PngWriter): the header says what we want, the data may be tiny ----

    /// <summary>20000×20000 grayscale, every row present: 400 MB of pixels in a few hundred KB (a decompression bomb).</summary>
    private static readonly Lazy<byte[]> Bomb = new(() => PngWriter.Zeros(20000, 20000));

    // ---- 1 and 2: overflowing sizes and decompression bombs ----

    [TestMethod]
    public void Predict_PngWhoseDecodedSizeOverflows32Bits_FailsNamingSizeAndLimitInsteadOfCorruptingMemory()
    {
        var model = TrainedModel();
        var path = Path.Combine(root, "overflow", "huge.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // 50000 × 50000 RGBA = 10 GB decoded: SkiaSharp's int BytesSize wraps; the old check allocated from it and crashed.
        File.WriteAllBytes(path, PngWriter.Zeros(50000, 50000, colorType: 6, rows: 2));
        var result = CliRunner.Run("predict", "--model", model, path);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, "huge.png");
        StringAssert.Contains(result.Error, "50,000×50,000 = 2,500,000,000 pixels");
        StringAssert.Contains(result.Error, "expected at most 67,108,864 pixels (the image pixel limit, option --max-image-pixels)");
    }

    [TestMethod]
    public void PredictAndTrain_DecompressionBomb_RefusedFromItsHeaderAndALowerLimitIsHonoured()
    {
        var model = TrainedModel();
        var bomb = Path.Combine(root, "bomb", "bomb.png");
        Directory.CreateDirectory(Path.GetDirectoryName(bomb)!);
        File.WriteAllBytes(bomb, Bomb.Value);
        Assert.IsLessThan(2_000_000L, new FileInfo(bomb).Length, "the bomb is small on disk");
        var before = Environment.WorkingSet;

        var predict = CliRunner.Run("predict", "--model", model, bomb);
        Assert.AreEqual(2, predict.ExitCode, predict.ToString());
        StringAssert.Contains(predict.Error, "bomb.png' (a Png image of 20,000×20,000 = 400,000,000 pixels");
        // Refused from the header: nothing near the 1.6 GB an RGBA decode needs was allocated.
        Assert.IsLessThan(before + 400L * 1024 * 1024, Environment.WorkingSet, "the bomb was not decoded");

        // Training names it among the data's images too.
        var data = Dataset("bomb-data");
        File.Copy(bomb, Path.Combine(data, "dark", "bomb.png"));
        var train = Train(data, Path.Combine(root, "bomb-out"));
        Assert.AreEqual(2, train.ExitCode, train.ToString());
        StringAssert.Contains(train.Error, Path.Combine("dark", "bomb.png") + "' (a Png image of 20,000×20,000");

        // A lower limit applies to ordinary images as well, and a nonsense limit is a usage error naming the option.
        var small = Directory.GetFiles(Path.Combine(root, "model-data", "dark")).First();
        var limited = CliRunner.Run("predict", "--model", model, small, "--max-image-pixels", "700");
        Assert.AreEqual(2, limited.ExitCode, limited.ToString());
        StringAssert.Contains(limited.Error, "28×28 = 784 pixels");
        StringAssert.Contains(limited.Error, "expected at most 700 pixels");
        var zero = CliRunner.Run("predict", "--model", model, small, "--max-image-pixels", "0");
        Assert.AreEqual(2, zero.ExitCode, zero.ToString());
        StringAssert.Contains(zero.Error, "option --max-image-pixels: expected a number of pixels from 1 to");
    }

    // ---- 4: one output folder, one run; outputs as a set ----

    [TestMethod]
    public void Train_OutFolderLockedByAnotherRun_FailsNamingTheHolderAndAStaleLockIsTakenOver()
    {
        var data = Dataset("lock-data");
        var output = Path.Combine(root, "lock-out");
        using (OutputLock.Acquire("train", "--out", output, "hypersparse train --data elsewhere"))
        {
            var second = Train(data, output);
            Assert.AreEqual(2, second.ExitCode, second.ToString());
            StringAssert.Contains(second.Error, $"option --out: expected a folder no other run is writing to, found '{output}' in use by process {Environment.ProcessId}");
            StringAssert.Contains(second.Error, "hypersparse train --data elsewhere");
            Assert.IsFalse(File.Exists(Path.Combine(output, "model.zip")));
            Assert.IsFalse(Directory.Exists(Path.Combine(output, "checkpoints")), "the refused run did not even clear checkpoints");
        }
        // The holder is gone (as after kill -9: the lock file stays, the kernel's lock does not): the next run takes over.
        Assert.IsTrue(File.Exists(Path.Combine(output, OutputLock.LockName)));
        var third = Train(data, output);
        Assert.AreEqual(0, third.ExitCode, third.ToString());
    }

    [TestMethod]
    public void Train_SecondRunIntoTheSameOut_ReplacesTheWholeSetAndTheManifestListsExactlyIt()
    {
        var data = Dataset("set-data");
        var output = Path.Combine(root, "set-out");
        var art = Train(data, output);
        Assert.AreEqual(0, art.ExitCode, art.ToString());
        Assert.IsTrue(File.Exists(Path.Combine(output, "art-gap.png")), "an ART run writes the gap plot");

        // A one-shot run has no ART: the first run's art-gap.png must not stay beside the second run's model.
        var oneShot = Train(data, output, "--method", "oneshot");
        Assert.AreEqual(0, oneShot.ExitCode, oneShot.ToString());
        Assert.IsFalse(File.Exists(Path.Combine(output, "art-gap.png")), "no file of the earlier run is left");
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, OutputSet.ManifestName)));
        var listed = manifest.RootElement.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("file").GetString()!, f => f);
        var present = Directory.GetFiles(output).Select(Path.GetFileName).Where(n => n != OutputSet.ManifestName && !n!.StartsWith('.')).Order().ToList();
        CollectionAssert.AreEqual(present, listed.Keys.Order().ToList(), "the manifest lists exactly the files of the folder");
        foreach (var (name, entry) in listed)
        {
            var bytes = File.ReadAllBytes(Path.Combine(output, name));
            Assert.AreEqual(bytes.LongLength, entry.GetProperty("bytes").GetInt64(), name);
            Assert.AreEqual(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), entry.GetProperty("sha256").GetString(), name);
        }
        StringAssert.Contains(manifest.RootElement.GetProperty("commandLine").GetString(), "--method oneshot");
        StringAssert.Contains(File.ReadAllText(Path.Combine(output, "report.md")), "OneShot");
        Assert.IsEmpty(Directory.GetDirectories(output, ".staging-*"), "the staging folder is gone");
    }

    // ---- 3: a run that diverges writes nothing ----

    [TestMethod]
    [DataRow("--lr", "1e30", "Training diverged in epoch 1 (Warmup): the training loss is NaN (learning rate 1e+30")]
    [DataRow("--lambda-growth", "1e300", "Training diverged in epoch 3 (Art): λ of ART epoch 2 is")]
    public void Train_DivergingRun_FailsNamingEpochPhaseAndTheOptionAndTheEarlierSetStaysWhole(string option, string value, string expected)
    {
        var data = Dataset("diverge-data-" + option.Trim('-'));
        var output = Path.Combine(root, "diverge-out-" + option.Trim('-'));
        var good = Train(data, output);
        Assert.AreEqual(0, good.ExitCode, good.ToString());
        var before = Directory.GetFiles(output).Where(f => !Path.GetFileName(f).StartsWith('.')).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

        // κ 0.99 keeps ART's stop rule from ending ART after its first epoch, so the λ of the second ART epoch is reached.
        var diverged = CliRunner.Run("train", "--data", data, "--out", output, "--warmup", "1", "--max-art", "3", "--finetune", "1",
            "--batch-size", "16", "--holdout", "0", "--plain", option, value, "--sparsity", "0.99");
        Assert.AreEqual(1, diverged.ExitCode, diverged.ToString());
        StringAssert.Contains(diverged.Error, expected);
        StringAssert.Contains(diverged.Error, $"Nothing was written to '{output}'");
        StringAssert.Contains(diverged.Error, "LearningRate is --lr");
        var after = Directory.GetFiles(output).Where(f => !Path.GetFileName(f).StartsWith('.')).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        CollectionAssert.AreEquivalent(before.Keys.ToList(), after.Keys.ToList(), "the same files");
        foreach (var (name, bytes) in before) CollectionAssert.AreEqual(bytes, after[name], $"{name} of the good run is untouched");
        Assert.IsEmpty(Directory.GetDirectories(output, ".staging-*"));
    }

    [TestMethod]
    public void Train_SparsityThatKeepsNoWeight_IsAUsageErrorNamingSparsityBeforeTheFirstEpoch()
    {
        TrainedModel();   // makes model-data
        var result = Train(Path.Combine(root, "model-data"), Path.Combine(root, "kappa-out"), "--sparsity", "0.99999");
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Matches(result.Error, new System.Text.RegularExpressions.Regex(@"option --sparsity: The pruning rate κ = 0\.99999 keeps 0 of [\d,]+ prunable weights"));
        StringAssert.Contains(result.Error, "(the largest κ that keeps 1 weight)");
        Assert.IsFalse(result.Out.Contains("warm-up     1/", StringComparison.Ordinal), "no epoch ran");
    }

    // ---- 5: atomic writes never replace what is not a regular file ----

    [TestMethod]
    public void Evaluate_JsonToADeviceOrALinkToOne_IsRefusedAndLeavesItALinkToARegularFileIsWrittenThrough()
    {
        var model = TrainedModel();
        var data = Path.Combine(root, "model-data");
        var device = CliRunner.Run("evaluate", "--model", model, "--data", data, "--json", "/dev/full");
        Assert.AreEqual(2, device.ExitCode, device.ToString());
        StringAssert.Contains(device.Error, "option --json: Cannot write '/dev/full': expected a regular file or a new file name, found a device, FIFO or socket");
        Assert.AreEqual(HyperSparse.Imaging.FileKind.Kind.Special, HyperSparse.Imaging.FileKind.Of("/dev/full", followLinks: false), "/dev/full is still a device");

        var links = Path.Combine(root, "json-links");
        Directory.CreateDirectory(links);
        var toDevice = Path.Combine(links, "to-null.json");
        File.CreateSymbolicLink(toDevice, "/dev/null");
        var refused = CliRunner.Run("evaluate", "--model", model, "--data", data, "--json", toDevice);
        Assert.AreEqual(2, refused.ExitCode, refused.ToString());
        StringAssert.Contains(refused.Error, "found a symbolic link to a device, FIFO or socket");
        Assert.AreEqual("/dev/null", new FileInfo(toDevice).LinkTarget, "the link is untouched");

        var real = Path.Combine(links, "metrics-real.json");
        File.WriteAllText(real, "old");
        var link = Path.Combine(links, "metrics.json");
        File.CreateSymbolicLink(link, real);
        var written = CliRunner.Run("evaluate", "--model", model, "--data", data, "--json", link);
        Assert.AreEqual(0, written.ExitCode, written.ToString());
        Assert.AreEqual(real, new FileInfo(link).LinkTarget, "the link stays a link");
        StringAssert.Contains(File.ReadAllText(real), "\"Accuracy\"", "its target got the JSON");

        var stdout = CliRunner.Run("evaluate", "--model", model, "--data", data, "--json", "-");
        Assert.AreEqual(0, stdout.ExitCode, stdout.ToString());
        StringAssert.Contains(stdout.Out, "\"Accuracy\"");
    }

    // ---- 6: folder symlinks ----

    [TestMethod]
    public void Train_SymlinkLoopAndLinkToAnotherClass_AreNotFollowedAndEachImageIsReadOnce()
    {
        var data = Dataset("links-data");
        // A loop (dark/loop → dark) would list every dark image again and again, spread over train and hold-out; a link to
        // another class folder would give the light images a second label.
        Directory.CreateSymbolicLink(Path.Combine(data, "dark", "loop"), Path.Combine(data, "dark"));
        Directory.CreateSymbolicLink(Path.Combine(data, "dark", "other"), Path.Combine(data, "light"));
        var folder = ImageFolder.Open("train", "--data", data, minimumClasses: 2);
        Assert.HasCount(24, folder.Images, "12 dark + 12 light, each once");
        Assert.AreEqual(12, folder.Images.Count(i => i.Label == "light"));
        var note = folder.Notes.Single(n => n.Contains("symlink", StringComparison.Ordinal));
        StringAssert.Contains(note, "skipped 2 folder symlink(s), which are not followed");
        StringAssert.Contains(note, Path.Combine("dark", "loop"));

        // A class folder that is itself a link to another class: the same files under two labels is an error naming both.
        var twice = Dataset("links-twice");
        Directory.CreateSymbolicLink(Path.Combine(twice, "zz-copy"), Path.Combine(twice, "dark"));
        var error = Assert.ThrowsExactly<UsageException>(() => ImageFolder.Open("train", "--data", twice, minimumClasses: 2));
        StringAssert.Contains(error.Message, "expected every image to have one class, found");
        StringAssert.Contains(error.Message, "under class 'dark'");
        StringAssert.Contains(error.Message, "under class 'zz-copy'");
    }

    [TestMethod]
    public void Train_OutThroughASymlinkIntoAClassFolder_IsRefused()
    {
        var data = Dataset("out-link-data");
        var link = Path.Combine(root, "out-link");
        Directory.CreateSymbolicLink(link, Path.Combine(data, "dark"));
        var output = Path.Combine(link, "run");
        var result = Train(data, output);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Error, "option --out: expected a folder outside --data (it would become a class folder)");
        StringAssert.Contains(result.Error, $"it resolves to '{Path.Combine(data, "dark", "run")}'");
        Assert.IsFalse(Directory.Exists(output), "nothing was written into the class folder");
    }

    // ---- 7: silent surprises ----

    [TestMethod]
    public void Predict_BlueImageOnAGrayscaleModel_IsScoredByItsLuminanceNotItsRedChannel()
    {
        var model = TrainedModel();
        var dir = Path.Combine(root, "colour");
        Directory.CreateDirectory(dir);
        string Solid(string name, SKColor colour)
        {
            var path = Path.Combine(dir, name + ".png");
            using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Rgba8888, SKAlphaType.Premul));
            bitmap.Erase(colour);
            using var image = SKImage.FromBitmap(bitmap);
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, png.ToArray());
            return path;
        }
        var blue = Solid("blue", new SKColor(0, 0, 255));
        var black = Solid("black", new SKColor(0, 0, 0));
        var result = CliRunner.Run("predict", "--model", model, "--json", blue, black);
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        var scores = json.RootElement.EnumerateArray().Select(r => r.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray()).ToList();
        // Red-channel reading saw the blue image as black (identical scores); luminance sees a dark but not black image.
        CollectionAssert.AreNotEqual(scores[1], scores[0], "a blue image is not scored as a black one");

        // The grayscale step is in model.zip, and it leaves grayscale images as they were (R = G = B keeps its value).
        var ml = new MLContext();
        var chain = (IEnumerable<ITransformer>)ml.Model.Load(model, out _);
        Assert.IsTrue(chain.Any(t => t is Microsoft.ML.Transforms.Image.ImageGrayscalingTransformer), string.Join(", ", chain.Select(t => t.GetType().Name)));
        var gray = Directory.GetFiles(Path.Combine(root, "model-data", "light")).First();
        var rows = ml.Data.LoadFromEnumerable(new[] { new ScoringInput { ImagePath = gray } });
        var load = ml.Transforms.LoadImages("Image", null, "ImagePath").Append(ml.Transforms.ResizeImages("Image", 28, 28));
        var red = load.Append(ml.Transforms.ExtractPixels("F", "Image", Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red));
        var luminance = load.Append(ml.Transforms.ConvertToGrayscale("Image"))
            .Append(ml.Transforms.ExtractPixels("F", "Image", Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red));
        var a = red.Fit(rows).Transform(rows).GetColumn<float[]>("F").Single();
        var b = luminance.Fit(rows).Transform(rows).GetColumn<float[]>("F").Single();
        CollectionAssert.AreEqual(a, b, "a grayscale image reads the same values with the luminance step");
    }

    [TestMethod]
    public void Train_CropPaddingOverHalfTheImageAndThreadsOverTheCores_AreUsageErrorsNamingTheLimit()
    {
        TrainedModel();   // makes model-data
        var data = Path.Combine(root, "model-data");
        var padding = Train(data, Path.Combine(root, "pad-out"), "--crop-padding", "15");
        Assert.AreEqual(2, padding.ExitCode, padding.ToString());
        StringAssert.Contains(padding.Error, "option --crop-padding: expected a number of pixels from 0 to 14 (half the image side, --image-size 28), found '15' for 28×28 images");
        var threads = Train(data, Path.Combine(root, "threads-out"), "--threads", "2000");
        Assert.AreEqual(2, threads.ExitCode, threads.ToString());
        StringAssert.Contains(threads.Error, $"option --threads: expected a number of threads from 1 to {Environment.ProcessorCount} (this machine's processor count), found '2000'");
    }

    [TestMethod]
    public void Holdout_SmallClassesAndOneImagePerClass_AreStatedExactly()
    {
        var ml = new MLContext();
        var data = Path.Combine(root, "holdout-data");
        for (var i = 0; i < 10; i++) Png(Path.Combine(data, "many", $"{i}.png"), 12, 12, SKColorType.Rgba8888, 30, i);
        Png(Path.Combine(data, "single", "0.png"), 12, 12, SKColorType.Rgba8888, 200, 0);
        var split = TrainingData.FromFolder(ml, "train", "--data", data, null, 0.1, 1, HyperSparse.Imaging.ImageGate.DefaultMaxPixels, default);
        Assert.AreEqual(1, split.EvaluationCount);
        StringAssert.Contains(split.EvaluationDescription, "1 of 2 classes have a single image and none held out, so the evaluation does not cover them: 'single'");

        var ones = Path.Combine(root, "holdout-ones");
        Png(Path.Combine(ones, "a", "0.png"), 12, 12, SKColorType.Rgba8888, 30, 0);
        Png(Path.Combine(ones, "b", "0.png"), 12, 12, SKColorType.Rgba8888, 200, 0);
        var none = TrainingData.FromFolder(ml, "train", "--data", ones, null, 0.1, 1, HyperSparse.Imaging.ImageGate.DefaultMaxPixels, default);
        Assert.AreEqual(0, none.EvaluationCount);
        Assert.AreEqual("none: every class has a single image, so nothing could be held out without losing the class (--holdout 0.1); no evaluation", none.EvaluationDescription);
    }

    // ---- 8: messages that name the culprit ----

    [TestMethod]
    public void PredictAndInspect_AnotherMLNetModelAndAFifo_NameTheFileAndWhatWasFound()
    {
        var ml = new MLContext();
        var other = Path.Combine(root, "other-model.zip");
        var rows = ml.Data.LoadFromEnumerable(new[] { new NumberRow { X = 1 }, new NumberRow { X = 2 } });
        var normalizer = ml.Transforms.NormalizeMinMax("X").Fit(rows);
        ml.Model.Save(normalizer, rows.Schema, other);
        var image = Directory.GetFiles(Path.Combine(root, "model-data", "dark")).First();
        var predict = CliRunner.Run("predict", "--model", other, image);
        Assert.AreEqual(2, predict.ExitCode, predict.ToString());
        StringAssert.Contains(predict.Error, $"found '{other}', an ML.NET model that does not load images from a path: its input columns are X (Single)");
        StringAssert.Contains(predict.Error, "NormalizingTransformer");

        var fifo = Path.Combine(root, "model.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        var inspect = Task.Run(() => CliRunner.Run("inspect", fifo));
        Assert.IsTrue(inspect.Wait(TimeSpan.FromSeconds(60)), "inspect of a FIFO returns instead of waiting for a writer forever");
        Assert.AreEqual(2, inspect.Result.ExitCode, inspect.Result.ToString());
        StringAssert.Contains(inspect.Result.Error, "found an empty file (0 bytes; a FIFO or a device reports 0 bytes too, and is not read)");
    }

    [TestMethod]
    public void ConsumeSnippet_ClassNamesWithNewlinesQuotesAndControlCharacters_Compiles()
    {
        string[] names = { "line\nbreak", "quote\"d", "back\\slash", "tab\there", "bell\u0007", "para\u2029graph", "ünïcødé" };
        var run = new RunSummary
        {
            CommandLine = "hypersparse train", Started = DateTimeOffset.Now, DataKind = "folder", DataPath = "/data", ClassNames = names,
            TrainImages = 1, EvaluationImages = 0, EvaluationSet = "none", DataNotes = Array.Empty<string>(), Channels = 1, ImageSize = 28,
            Architecture = "lenet5", Sparsity = 0.9, Profile = HyperSparse.Cli.Training.Profile.Named("quick"),
            Options = new Microsoft.ML.HyperSparse.HyperSparseClassificationTrainer.Options(), Seed = 1, Resumed = false,
        };
        var assembly = ConsumeSnippetCompiler.Compile(ConsumeSnippet.Create(run, "ImagePath", "Score"));
        var compiled = (string[])assembly.GetType("HyperSparseModel")!.GetField("ClassNames")!.GetValue(null)!;
        CollectionAssert.AreEqual(names, compiled, "every name survives as written");
    }

    /// <summary>A row of one number, for a model that is not an image classifier.</summary>
    public sealed class NumberRow
    {
        /// <summary>The number.</summary>
        public float X { get; set; }
    }
}
