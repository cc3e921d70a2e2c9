using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.OnnxRuntime;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Loading the ImageNet-trained ResNet-18 ML.NET ships (CNTK's ONNX export, copied into the test output by the package's
/// build props) into our ImageNetResNet, checked against ONNX Runtime running the file itself.
/// </summary>
[TestClass]
public sealed class MLNetResNet18Tests
{
    // The file declares its input [1, 3, 224, 224] and ends in a fixed 7×7 AveragePool (not a global one), so it is fed what it
    // declares; 224 is even at every layer, where CNTK's per-side pads equal our symmetric ones.
    private const int Size = 224;

    [ClassInitialize]
    public static void Initialize(TestContext context) => Load();

    [ClassCleanup]
    public static void Cleanup() => Release();

    private static ImageNetResNet NewModel(IReadOnlyList<int>? blocks = null) =>
        new("ResNet18MLNet", blocks ?? ImageNetResNet.ResNet18MLNetBlocks, new ImageShape(3, Size, Size), 10);

    [TestMethod]
    public void MLNetResNet18_Locate_FindsTheCopyInTheOutputFolder()
    {
        string path = MLNetResNet18.Locate();
        Assert.AreEqual(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, MLNetResNet18.RelativePath)), path);
    }

    /// <summary>The same 0–255 input gives ONNX Runtime's pooled features (platform notes measured 3.1e-6 at 224×224).</summary>
    [TestMethod]
    public void MLNetResNet18_Load_FeaturesMatchOnnxRuntime()
    {
        var random = new Random(7);
        float[] pixels = Enumerable.Range(0, 3 * Size * Size).Select(_ => (float)(255 * random.NextDouble())).ToArray();

        using var model = NewModel();
        MLNetResNet18.Load(model);
        model.eval();
        float[] ours;
        using (no_grad())
        using (Tensor input = Shaped(pixels, 1, 3, Size, Size))
        using (Tensor features = model.Features(input))
            ours = Values(features);

        float[] theirs;
        using (var options = new SessionOptions { IntraOpNumThreads = 1 })
        using (var session = new InferenceSession(MLNetResNet18.Locate(), options))
        using (var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, Size, Size]))
        using (var runOptions = new RunOptions())
        using (var results = session.Run(runOptions, [MLNetResNet18.InputName], [input], [MLNetResNet18.FeaturesName]))
            theirs = results[0].GetTensorDataAsSpan<float>().ToArray();

        Assert.HasCount(512, ours);
        Assert.HasCount(512, theirs);
        double maxDiff = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
        double maxAbs = theirs.Max(Math.Abs);
        Console.WriteLine($"max |ours - ORT| = {maxDiff:E2} over features up to {maxAbs:F2}");
        // Not a vacuous match: pretrained features of a random image are far from zero.
        Assert.IsGreaterThan(1.0, maxAbs);
        Assert.IsLessThanOrEqualTo(1e-4, maxDiff, $"max |ours - ORT| = {maxDiff:E2}");
    }

    [TestMethod]
    public void MLNetResNet18_Locate_MissingExplicitPath_NamesThePackage()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hs-missing-{Guid.NewGuid():N}", "ResNet18.onnx");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => MLNetResNet18.Locate(path));
        StringAssert.Contains(e.Message, "dotnet add package Microsoft.ML.DnnImageFeaturizer.ResNet18 --version 0.24.0");
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void MLNetResNet18_Locate_NothingInstalled_ListsThePlacesSearched()
    {
        string appBase = Path.Combine(Path.GetTempPath(), $"hs-app-{Guid.NewGuid():N}");
        string nuget = Path.Combine(Path.GetTempPath(), $"hs-nuget-{Guid.NewGuid():N}");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => MLNetResNet18.Locate(null, appBase, [nuget]));
        StringAssert.Contains(e.Message, MLNetResNet18.PackageId);
        StringAssert.Contains(e.Message, Path.Combine(appBase, MLNetResNet18.RelativePath));
        StringAssert.Contains(e.Message, Path.Combine(nuget, "microsoft.ml.dnnimagefeaturizer.resnet18", "0.24.0", "tools", MLNetResNet18.RelativePath));
    }

    [TestMethod]
    public void MLNetResNet18_Load_ShapeMismatch_NamesTheNodeAndBothShapes()
    {
        string path = MLNetResNet18.Locate();
        global::Onnx.ModelProto onnx = MLNetResNet18.Read(path);
        // Corrupt the stem's weight shape as a file for a 1-channel input would have it.
        global::Onnx.NodeProto stem = onnx.Graph.Node.First(n => n.OpType == "Conv");
        global::Onnx.TensorProto weight = onnx.Graph.Initializer.Single(t => t.Name == stem.Input[1]);
        weight.Dims[1] = 1;

        using var model = NewModel();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => MLNetResNet18.Load(model, onnx, path));
        StringAssert.Contains(e.Message, stem.Name.Length > 0 ? stem.Name : stem.Output[0]);
        StringAssert.Contains(e.Message, "[64, 1, 7, 7]");
        StringAssert.Contains(e.Message, "for 3136"); // 64·1·7·7 declared, 64·3·7·7 stored
    }

    [TestMethod]
    public void MLNetResNet18_Load_TorchvisionBlocks_AreRefusedBeforeReading()
    {
        using var model = NewModel(ImageNetResNet.ResNet18Blocks);
        var e = Assert.ThrowsExactly<ArgumentException>(() => MLNetResNet18.Load(model, "/nonexistent/ResNet18.onnx"));
        StringAssert.Contains(e.Message, "[2, 2, 2, 3]");
    }
}
