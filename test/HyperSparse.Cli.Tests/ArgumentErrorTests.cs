namespace HyperSparse.Cli.Tests;

/// <summary>Every usage error: one message on stderr naming the option, what was expected and what was found; exit code 2.</summary>
[TestClass]
public sealed class ArgumentErrorTests
{
    private static string root = null!;
    private static string twoClasses = null!;

    [ClassInitialize]
    public static void MakeFolders(TestContext _)
    {
        root = CliRunner.TempFolder("hs-cli-args");
        twoClasses = Path.Combine(root, "two");
        foreach (var c in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(twoClasses, c));
            File.WriteAllBytes(Path.Combine(twoClasses, c, "x.png"), new byte[] { 0 });   // never decoded: argument checks come first
        }
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        if (root is not null && Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    private static CliRunner.Result Usage(params string[] args)
    {
        var result = CliRunner.Run(args);
        Assert.AreEqual(2, result.ExitCode, result.ToString());
        Assert.HasCount(1, result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), "one message on stderr:\n" + result);
        Assert.Contains("--help", result.Error, "the message says where the usage is");
        return result;
    }

    private static void Mentions(CliRunner.Result result, params string[] parts)
    {
        foreach (var part in parts) Assert.Contains(part, result.Error, result.ToString());
    }

    [TestMethod]
    public void Train_UnknownArchitecture_NamesOptionExpectedAndFound()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o1"), "--arch", "alexnet");
        Mentions(r, "--arch", "one of lenet5, resnet20, resnet32, vgg19", "'alexnet'");
    }

    [TestMethod]
    [DataRow("1.5")]
    [DataRow("0")]
    [DataRow("1")]
    [DataRow("-0.2")]
    [DataRow("ninety")]
    public void Train_SparsityOutsideOpenUnitInterval_IsUsageError(string value)
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o2"), "--sparsity", value);
        Mentions(r, "--sparsity", "strictly between 0 and 1", $"'{value}'");
    }

    [TestMethod]
    public void Train_MissingDataFolder_SaysItDoesNotExist()
    {
        var missing = Path.Combine(root, "no-such-folder");
        var r = Usage("train", "--data", missing, "--out", Path.Combine(root, "o3"));
        Mentions(r, "--data", "one subfolder of images per class", missing, "does not exist");
    }

    [TestMethod]
    public void Train_FolderWithOneClass_NamesTheClass()
    {
        var one = Path.Combine(root, "one");
        Directory.CreateDirectory(Path.Combine(one, "only"));
        File.WriteAllBytes(Path.Combine(one, "only", "x.png"), new byte[] { 0 });
        var r = Usage("train", "--data", one, "--out", Path.Combine(root, "o4"));
        Mentions(r, "--data", "at least 2 classes", "found 1", "'only'");
    }

    [TestMethod]
    public void Train_FolderWithoutImages_SaysNoImages()
    {
        var empty = Path.Combine(root, "empty");
        Directory.CreateDirectory(Path.Combine(empty, "a"));
        File.WriteAllText(Path.Combine(empty, "a", "notes.txt"), "not an image");
        var r = Usage("train", "--data", empty, "--out", Path.Combine(root, "o5"));
        Mentions(r, "--data", "found no images");
    }

    [TestMethod]
    public void Train_ImagesWithoutClassFolders_SaysToUseSubfolders()
    {
        var flat = Path.Combine(root, "flat");
        Directory.CreateDirectory(flat);
        File.WriteAllBytes(Path.Combine(flat, "x.png"), new byte[] { 0 });
        var r = Usage("train", "--data", flat, "--out", Path.Combine(root, "o6"));
        Mentions(r, "--data", "no class subfolders");
    }

    [TestMethod]
    public void Train_OutputInsideDataFolder_IsUsageError()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(twoClasses, "model"));
        Mentions(r, "--out", "outside --data");
    }

    [TestMethod]
    public void Train_UnknownOption_ListsTheKnownOnes()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o7"), "--epochs", "3");
        Mentions(r, "unknown option '--epochs'", "--sparsity", "--profile");
    }

    [TestMethod]
    public void Train_OptionWithoutValue_SaysFoundNothing()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o8"), "--sparsity");
        Mentions(r, "--sparsity", "strictly between 0 and 1", "found nothing");
    }

    [TestMethod]
    public void Train_MissingRequiredData_IsUsageError()
    {
        var r = Usage("train", "--out", Path.Combine(root, "o9"));
        Mentions(r, "--data", "found nothing (the option is required)");
    }

    [TestMethod]
    [DataRow("--profile", "fast", "one of quick, standard, paper")]
    [DataRow("--image-size", "4", "LeNet-5 ≥ 12")]
    [DataRow("--limit", "0", "a positive number of images")]
    [DataRow("--channels", "2", "one of auto, 1, 3")]
    [DataRow("--seed", "x", "an integer ≥ 0")]
    [DataRow("--time-budget", "20", "a positive duration with units s, m or h")]
    [DataRow("--time-budget", "0m", "a positive duration with units s, m or h")]
    public void Train_BadValue_NamesOptionExpectedAndFound(string option, string value, string expected)
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o10"), option, value);
        Mentions(r, option, expected, $"'{value}'");
    }

    [TestMethod]
    [DataRow("resnet18")]
    [DataRow("resnet34")]
    public void Train_ImageNetResNetBelow32Pixels_NamesTheMinimum(string arch)
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o10"), "--arch", arch, "--image-size", "31");
        Mentions(r, "--image-size", "ResNet-18/34 ≥ 32", "'31'");
    }

    [TestMethod]
    [DataRow("90s", 90)]
    [DataRow("20m", 1200)]
    [DataRow("1.5h", 5400)]
    [DataRow("1h30m", 5400)]
    [DataRow("2m30s", 150)]
    public void ParseDuration_SecondsMinutesHours(string text, double seconds) =>
        Assert.AreEqual(TimeSpan.FromSeconds(seconds), CommandLine.ParseDuration(text));

    [TestMethod]
    [DataRow("20")]
    [DataRow("m")]
    [DataRow("20 min")]
    [DataRow("-5m")]
    public void ParseDuration_WithoutUnitsOrMalformed_IsNull(string text) => Assert.IsNull(CommandLine.ParseDuration(text));

    [TestMethod]
    public void Train_PretrainedFileMissingOrAFolder_NamesIt()
    {
        var missing = Path.Combine(root, "no-such-net.pt");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o12"), "--pretrained", missing), "--pretrained", missing, "does not exist");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o12"), "--pretrained", root), "--pretrained", "is a folder");
    }

    [TestMethod]
    public void Train_PretrainedOptionsThatDoNotFit_AreUsageErrors()
    {
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o13"), "--keep-classifier"), "--keep-classifier", "--pretrained");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o13"), "--pretrained", "imagenet", "--arch", "lenet5"),
            "--arch", "'lenet5' with --pretrained", "resnet18 or resnet34");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o13"), "--pretrained", "imagenet", "--keep-classifier"),
            "--keep-classifier", "no classifier to keep");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o13"), "--pretrained", "imagenet", "--image-size", "28"),
            "--image-size", "'28'");
    }

    /// <summary>A file that is neither ONNX nor a PyTorch zip: the run stops before training, naming the file, and writes no model.</summary>
    [TestMethod]
    public void Train_PretrainedGarbageFile_NamesTheFileAndTheAcceptedFormats_WritesNothing()
    {
        var junk = Path.Combine(root, "junk.onnx");
        File.WriteAllText(junk, "this is not a network");
        var outDir = Path.Combine(root, "o14");
        var fashion = CliRunner.FashionMnist();
        var r = CliRunner.Run("train", "--data", fashion, "--limit", "20", "--out", outDir, "--pretrained", junk, "--plain", "--threads", "1");
        Assert.AreNotEqual(0, r.ExitCode, r.ToString());
        StringAssert.Contains(r.Error, junk, r.ToString());
        Assert.IsFalse(File.Exists(Path.Combine(outDir, "model.zip")), r.ToString());
    }

    [TestMethod]
    public void Train_QuantizeNoneWithInt8_OrUnknownMode_IsUsageError()
    {
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o15"), "--int8", "--quantize", "none"), "--quantize", "'none' together with --int8");
        Mentions(Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o15"), "--quantize", "int4"), "--quantize", "one of none, weights, full", "'int4'");
    }

    [TestMethod]
    public void Train_OptionGivenTwice_IsUsageError()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o11"), "--seed", "1", "--seed", "2");
        Mentions(r, "--seed", "given twice");
    }

    [TestMethod]
    public void Train_KeepDenseUnknownLayer_ListsTheArchitecturesLayers()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o12"), "--keep-dense", "conv1,conv9");
        Mentions(r, "option --keep-dense", "entry 'conv9' matches no layer of LeNet5", "conv1, conv2, fc1, fc2, fc3");
        Assert.DoesNotContain("KeepDenseLayers", r.Error, "the message speaks the tool's option name");

        r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o12"), "--arch", "resnet20", "--keep-dense", "stem");
        Mentions(r, "option --keep-dense", "'stem'", "22 prunable layers of ResNet20", "conv1, layer1.0.conv1,", "layer2.0.shortcut.conv", ", fc.");
    }

    [TestMethod]
    public void Train_KeepDenseEveryLayer_IsUsageError()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o13"), "--keep-dense", "conv*,fc*");
        Mentions(r, "option --keep-dense", "nothing is left to prune", "conv1, conv2, fc1, fc2, fc3");
    }

    [TestMethod]
    public void Train_KeepDenseEmptyEntry_IsUsageError()
    {
        var r = Usage("train", "--data", twoClasses, "--out", Path.Combine(root, "o14"), "--keep-dense", "conv1,,fc3");
        Mentions(r, "option --keep-dense", "'conv1,,fc3'", "empty entry");
    }

    [TestMethod]
    public void Inspect_NoFile_IsUsageError()
    {
        var r = Usage("inspect");
        Mentions(r, "inspect: expected a model file", "found none");
        r = Usage("inspect", "a.onnx", "b.onnx");
        Mentions(r, "expected one model file, found 2", "'a.onnx'");
    }

    [TestMethod]
    public void Inspect_MissingFile_IsUsageError()
    {
        var missing = Path.Combine(root, "none.onnx");
        var r = Usage("inspect", missing);
        Mentions(r, "inspect:", missing, "expected a .onnx file or an ML.NET model .zip", "found no such file");
        r = Usage("inspect", twoClasses);
        Mentions(r, "found a folder");
    }

    [TestMethod]
    public void Inspect_FileThatIsNotOnnx_IsUsageError()
    {
        var text = Path.Combine(root, "notes.onnx");
        File.WriteAllText(text, "these are not the bytes of an ONNX model\n");
        var r = Usage("inspect", text);
        Mentions(r, "inspect:", "notes.onnx");
        Assert.DoesNotContain("failed", r.Error, "a wrong input is a usage error, not a failure");
    }

    [TestMethod]
    public void Inspect_ZipWithoutOnnx_ListsItsEntries()
    {
        var zip = Path.Combine(root, "no-model.zip");
        using (var archive = System.IO.Compression.ZipFile.Open(zip, System.IO.Compression.ZipArchiveMode.Create))
        using (var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open()))
            writer.Write("no model here");
        var r = Usage("inspect", zip);
        Mentions(r, "inspect:", "no-model.zip", "expected a zip holding an ONNX model", "'readme.txt'");
    }

    [TestMethod]
    public void UnknownCommand_IsUsageError()
    {
        var r = Usage("fit", "--data", twoClasses);
        Mentions(r, "unknown command 'fit'", "train, evaluate, predict, inspect, export-images");
    }

    [TestMethod]
    public void NoArguments_PrintsUsageAndExits2()
    {
        var r = CliRunner.Run();
        Assert.AreEqual(2, r.ExitCode);
        Assert.Contains("usage: hypersparse <command>", r.Out);
    }

    [TestMethod]
    public void Help_ExitsZero()
    {
        var r = CliRunner.Run("train", "--help");
        Assert.AreEqual(0, r.ExitCode, r.ToString());
        Assert.Contains("--sparsity", r.Out);
        Assert.Contains("--no-shrink", r.Out);
    }

    [TestMethod]
    public void Evaluate_MissingModel_IsUsageError()
    {
        var r = Usage("evaluate", "--model", Path.Combine(root, "none.zip"), "--data", twoClasses);
        Mentions(r, "--model", "none.zip", "does not exist");
    }

    [TestMethod]
    public void Predict_NoImages_IsUsageError()
    {
        var r = Usage("predict", "--model", Path.Combine(root, "none.zip"));
        Mentions(r, "expected one or more image files", "found none");
    }

    [TestMethod]
    public void Predict_MissingImage_IsUsageError()
    {
        var r = Usage("predict", "--model", Path.Combine(root, "none.zip"), Path.Combine(root, "nope.png"));
        Mentions(r, "expected an image file", "nope.png", "does not exist");
    }

    [TestMethod]
    public void ExportImages_MissingIdxFolder_IsUsageError()
    {
        var r = Usage("export-images", "--idx", Path.Combine(root, "no-idx"), "--out", Path.Combine(root, "png"));
        Mentions(r, "--idx", "an IDX folder", "does not exist");
    }

    [TestMethod]
    public void ExportImages_FolderWithoutIdxFiles_IsUsageError()
    {
        var r = Usage("export-images", "--idx", twoClasses, "--out", Path.Combine(root, "png"));
        Mentions(r, "--idx", "holds no IDX files");
    }

    [TestMethod]
    public void ExportImages_BadSplit_IsUsageError()
    {
        var r = Usage("export-images", "--idx", twoClasses, "--out", Path.Combine(root, "png"), "--split", "validation");
        Mentions(r, "--split", "one of train, test", "'validation'");
    }
}
