using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.HyperSparse.Onnx;
using Models = Microsoft.ML.HyperSparse.Engine.Models;
using static Microsoft.ML.HyperSparse.Tests.Engine.EngineTestTensors;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// torchvision ResNets written by PyTorch itself (Debian's python3-torch 1.13 and python3-torchvision, through
/// torchvision_fixtures.py) read back through both routes — the ONNX export and the torch.save state_dict — and scored by
/// our ImageNetResNet: the logits must be PyTorch's. Also our own ONNX export read back, and the files that must be refused.
/// </summary>
/// <remarks>
/// When build/test.sh ran (it sets HYPERSPARSE_REQUIRE_PYTHON_TORCH=1 after installing python3-torch), a Python without torch
/// is a failure; a plain <c>dotnet test</c> without it reports the PyTorch tests as inconclusive, with the package to install.
/// </remarks>
[TestClass]
public sealed class TorchvisionImportTests
{
    private const string Python = "/usr/bin/python3";
    private const string RequireVariable = "HYPERSPARSE_REQUIRE_PYTHON_TORCH";
    private const int Size = 64, Images = 4, Classes = 10;
    private const double Tolerance = 1e-4;

    private static string folder = "";
    private static string? fixtureProblem;

    [ClassInitialize]
    public static void Initialize(TestContext context)
    {
        Load();
        folder = Directory.CreateTempSubdirectory("hs-torchvision-").FullName;
        fixtureProblem = WriteFixtures(folder);
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        Release();
        if (folder.Length > 0 && Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
    }

    [TestMethod]
    public void TorchvisionOnnx_EvalExport_FoldedBatchNorms_LogitsMatchPyTorch()
    {
        PretrainedWeights weights = TorchvisionOnnx.Read(Fixture("resnet18.onnx"));
        Assert.IsFalse(OnnxModelReader.Parse(File.ReadAllBytes(Fixture("resnet18.onnx")), "resnet18.onnx").Graph.Node.Any(n => n.OpType == "BatchNormalization"),
            "torch.onnx.export in eval mode folds the batch norms into the convs");
        AssertLogitsMatchPyTorch(weights, ImageNetResNet.ResNet18Blocks, "resnet18", "ONNX, folded");
        Assert.AreSame(PretrainedPreprocessing.TorchvisionImageNet, weights.Preprocessing);
    }

    [TestMethod]
    public void TorchvisionOnnx_TrainingModeExport_BatchNormNodes_LogitsMatchPyTorch()
    {
        string file = Fixture("resnet18-bn.onnx");
        Assert.AreEqual(20, OnnxModelReader.Parse(File.ReadAllBytes(file), file).Graph.Node.Count(n => n.OpType == "BatchNormalization"),
            "TrainingMode.PRESERVE keeps every batch norm beside its conv");
        AssertLogitsMatchPyTorch(TorchvisionOnnx.Read(file), ImageNetResNet.ResNet18Blocks, "resnet18", "ONNX, batch norms");
    }

    /// <summary>
    /// The classifier written the other ways ONNX allows: Gemm with transB 0 (weight stored [in, out]) and MatMul + Add; and
    /// a conv bias before a batch norm (moved into its running mean). The logits stay PyTorch's.
    /// </summary>
    [TestMethod]
    [DataRow("GemmTransB0")]
    [DataRow("MatMulAdd")]
    [DataRow("ConvBiasBeforeNorm")]
    public void TorchvisionOnnx_EquivalentGraphs_LogitsMatchPyTorch(string variant)
    {
        string file = Fixture(variant == "ConvBiasBeforeNorm" ? "resnet18-bn.onnx" : "resnet18.onnx");
        global::Onnx.ModelProto onnx = OnnxModelReader.Parse(File.ReadAllBytes(file), file);
        global::Onnx.GraphProto graph = onnx.Graph;
        global::Onnx.TensorProto Initializer(string name) => graph.Initializer.Single(t => t.Name == name);
        if (variant == "ConvBiasBeforeNorm")
        {
            // conv(x) + b followed by BN with mean + b computes the same; the reader must keep that.
            global::Onnx.NodeProto conv = graph.Node.First(n => n.OpType == "Conv");
            global::Onnx.NodeProto norm = graph.Node.Single(n => n.OpType == "BatchNormalization" && n.Input[0] == conv.Output[0]);
            global::Onnx.TensorProto mean = Initializer(norm.Input[3]);
            float[] means = MemoryMarshal.Cast<byte, float>(mean.RawData.Span).ToArray();
            float[] bias = Enumerable.Range(0, means.Length).Select(c => 0.1f * (c % 7) - 0.3f).ToArray();
            graph.Initializer.Add(OnnxProtos.Float("test.conv_bias", bias, bias.Length));
            conv.Input.Add("test.conv_bias");
            graph.Initializer.Remove(mean);
            graph.Initializer.Add(OnnxProtos.Float(mean.Name, means.Select((m, c) => m + bias[c]).ToArray(), means.Length));
        }
        else
        {
            global::Onnx.NodeProto gemm = graph.Node.Single(n => n.OpType == "Gemm");
            Assert.AreEqual(1L, gemm.Attribute.Single(a => a.Name == "transB").I, "torch.onnx.export writes Linear as Gemm with transB 1");
            global::Onnx.TensorProto w = Initializer(gemm.Input[1]);
            float[] weight = MemoryMarshal.Cast<byte, float>(w.RawData.Span).ToArray();
            int outputs = (int)w.Dims[0], inputs = (int)w.Dims[1];
            float[] transposed = new float[weight.Length];
            for (int o = 0; o < outputs; o++)
                for (int i = 0; i < inputs; i++)
                    transposed[i * outputs + o] = weight[o * inputs + i];
            graph.Initializer.Add(OnnxProtos.Float("test.fc_in_out", transposed, inputs, outputs));
            if (variant == "GemmTransB0")
            {
                gemm.Input[1] = "test.fc_in_out";
                gemm.Attribute.Single(a => a.Name == "transB").I = 0;
            }
            else
            {
                int at = graph.Node.IndexOf(gemm);
                graph.Node.RemoveAt(at);
                graph.Node.Insert(at, OnnxProtos.Node("MatMul", "test.fc", [gemm.Input[0], "test.fc_in_out"], "test.fc_product"));
                graph.Node.Insert(at + 1, OnnxProtos.Node("Add", "test.fc_bias", ["test.fc_product", gemm.Input[2]], gemm.Output[0]));
            }
        }
        AssertLogitsMatchPyTorch(TorchvisionOnnx.Weights(onnx, file), ImageNetResNet.ResNet18Blocks, "resnet18", $"ONNX, {variant}");
    }

    [TestMethod]
    public void TorchStateDict_ResNet18_LogitsMatchPyTorch()
    {
        PretrainedWeights weights = TorchStateDict.Read(Fixture("resnet18.pt"));
        AssertLogitsMatchPyTorch(weights, ImageNetResNet.ResNet18Blocks, "resnet18", "state_dict");
        Assert.AreEqual(Models.Architecture.ResNet18, weights.Architecture);
    }

    [TestMethod]
    public void TorchStateDict_ResNet34_BlocksInferredFromKeys_LogitsMatchPyTorch()
    {
        PretrainedWeights weights = TorchStateDict.Read(Fixture("resnet34.pt"));
        CollectionAssert.AreEqual(ImageNetResNet.ResNet34Blocks, weights.Blocks.ToArray());
        AssertLogitsMatchPyTorch(weights, ImageNetResNet.ResNet34Blocks, "resnet34", "state_dict");
    }

    [TestMethod]
    public void PretrainedFiles_Read_ChoosesByContentNotExtension()
    {
        // Swapped extensions: the state_dict named .onnx and the ONNX file named .bin are still read as what they are.
        string stateDict = Path.Combine(folder, "swapped.onnx"), onnx = Path.Combine(folder, "swapped.bin");
        File.Copy(Fixture("resnet18.pt"), stateDict, overwrite: true);
        File.Copy(Fixture("resnet18.onnx"), onnx, overwrite: true);
        StringAssert.StartsWith(PretrainedFiles.Read(stateDict).Format, "PyTorch state_dict");
        StringAssert.StartsWith(PretrainedFiles.Read(onnx).Format, "torchvision ResNet ONNX export");
    }

    /// <summary>Our Dense export folds every batch norm; read back, it scores what the exported network scored, on input normalised as the file does.</summary>
    [TestMethod]
    [DataRow(nameof(OnnxWeightEncoding.Dense))]
    [DataRow(nameof(OnnxWeightEncoding.Compact))]
    public void TorchvisionOnnx_OwnExport_RoundTripsLogitsAndPreprocessing(string encodingName)
    {
        OnnxWeightEncoding encoding = Enum.Parse<OnnxWeightEncoding>(encodingName);
        const int Side = 32, OwnClasses = 3;
        manual_seed(11);
        using var original = new ImageNetResNet("ResNet18", ImageNetResNet.ResNet18Blocks, new ImageShape(3, Side, Side), OwnClasses);
        RandomizeBatchNorms(original);
        original.eval();
        var normalization = new Normalization(1f / 255, [0.5f, 0.4f, 0.3f], [0.25f, 0.2f, 0.3f]);
        string file = Path.Combine(Path.GetTempPath(), $"hs-own-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelWriter.WriteFile(original.DescribeNetwork("image", normalization),
                new OnnxExportOptions { WeightEncoding = encoding, ShrinkDeadChannels = false }, file);
            PretrainedWeights weights = PretrainedFiles.Read(file);
            StringAssert.StartsWith(weights.Format, "HyperSparse ONNX export");
            CollectionAssert.AreEqual(ImageNetResNet.ResNet18Blocks, weights.Blocks.ToArray());

            // Preprocessing: raw pixels r (0–255) give (r/255 · ScaleFrom01 − Mean) / Std = (r · PixelScale − Mean) / Std.
            PretrainedPreprocessing p = weights.Preprocessing;
            Assert.AreEqual(ChannelOrder.Rgb, p.Order);
            foreach (float raw in new[] { 0f, 37f, 128f, 255f })
                for (int c = 0; c < 3; c++)
                {
                    double file01 = (raw / 255.0 * p.ScaleFrom01 - p.Mean[c]) / p.Std[c];
                    double inGraph = (raw * normalization.PixelScale - normalization.Mean[c]) / normalization.Std[c];
                    Assert.AreEqual(inGraph, file01, 1e-5, $"raw {raw}, channel {c}");
                }

            using var loaded = new ImageNetResNet("ResNet18", ImageNetResNet.ResNet18Blocks, new ImageShape(3, Side, Side), OwnClasses);
            PretrainedLoader.Apply(loaded, weights, keepHead: true, readRgb: false); // the file's own input scale: the same normalised tensor feeds both
            loaded.eval();
            var random = new Random(5);
            float[] input = Enumerable.Range(0, 2 * 3 * Side * Side).Select(_ => (float)random.NextDouble() * 4 - 2).ToArray();
            double diff = MaxDiff(Logits(original, input, 2, Side), Logits(loaded, input, 2, Side));
            Console.WriteLine($"own {encoding} export read back: max |logits - original| = {diff:E2}");
            Assert.IsLessThanOrEqualTo(Tolerance, diff, $"max |logits - original| = {diff:E2}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void TorchvisionOnnx_OwnShrunkExport_IsRefusedNamingTheShrink()
    {
        // A network with a dead channel: the default export removes it, and the file's conv no longer has ResNet's width.
        manual_seed(3);
        using var model = new ImageNetResNet("ResNet18", ImageNetResNet.ResNet18Blocks, new ImageShape(3, 32, 32), 3);
        using (no_grad())
            model.named_parameters().Single(p => p.name == "layer1.0.conv1.weight").parameter[0].zero_();
        model.eval();
        var onnx = global::Onnx.ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(
            model.DescribeNetwork("image", Normalization.ScaleOnly(3, 1f / 255)), new OnnxExportOptions { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => TorchvisionOnnx.Weights(onnx, "shrunk.onnx"));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, "'shrunk.onnx'");
        StringAssert.Contains(e.Message, "dead channels were removed (shrunk layers: layer1.0.");
    }

    [TestMethod]
    public void TorchStateDict_BottleneckResNet_IsRefusedNamingTheKey()
    {
        string file = Fixture("bottleneck.pt");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, "key 'layer1.0.conv3.weight' of a bottleneck block");
        StringAssert.Contains(e.Message, "ResNet-18/34");
    }

    [TestMethod]
    public void TorchvisionOnnx_BottleneckResNet_IsRefusedNamingThe1x1MainPath()
    {
        string file = Fixture("bottleneck.onnx");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, "convolution(s) with 1×1 kernels in the main path");
        StringAssert.Contains(e.Message, "supported: ImageNet ResNets with basic blocks (ResNet-18/34)");
    }

    [TestMethod]
    public void TorchvisionOnnx_GroupedConvolution_IsRefusedNamingTheNode()
    {
        string file = Fixture("resnet18.onnx");
        global::Onnx.ModelProto onnx = OnnxModelReader.Parse(File.ReadAllBytes(file), file);
        global::Onnx.NodeProto conv = onnx.Graph.Node.Where(n => n.OpType == "Conv").ElementAt(3);
        conv.Attribute.Single(a => a.Name == "group").I = 2;
        var e = Assert.ThrowsExactly<InvalidDataException>(() => TorchvisionOnnx.Weights(onnx, file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, $"ONNX node '{OnnxConstantFolder.NodeLabel(conv)}' with group 2 (a grouped convolution)");
    }

    [TestMethod]
    public void PretrainedLoader_StateDictWithWrongShape_NamesTensorAndBothShapes()
    {
        string file = Fixture("wrong-shape.pt");
        PretrainedWeights weights = PretrainedFiles.Read(file);
        using var model = NewModel(ImageNetResNet.ResNet18Blocks);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedLoader.Apply(model, weights, keepHead: true));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, "tensor 'layer1.0.conv1.weight' of shape [32, 64, 3, 3]");
        StringAssert.Contains(e.Message, "the network expects [64, 64, 3, 3]");
    }

    [TestMethod]
    public void PretrainedFiles_Read_TruncatedFiles_AreRefusedNamingTheFile()
    {
        foreach (string name in new[] { "resnet18.pt", "resnet18.onnx" })
        {
            string truncated = Path.Combine(folder, "truncated-" + name);
            byte[] bytes = File.ReadAllBytes(Fixture(name));
            File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length / 2).ToArray());
            var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(truncated), name);
            Console.WriteLine(e.Message);
            StringAssert.Contains(e.Message, $"'{truncated}'");
        }
    }

    [TestMethod]
    public void PretrainedFiles_Read_GarbageFile_ListsTheAcceptedFormats()
    {
        string file = Path.Combine(Path.GetTempPath(), $"hs-garbage-{Guid.NewGuid():N}.pt");
        try
        {
            File.WriteAllText(file, "this is not a network");
            var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file));
            Console.WriteLine(e.Message);
            StringAssert.Contains(e.Message, $"'{file}'");
            StringAssert.Contains(e.Message, "neither ONNX nor a torch.save file");
            StringAssert.Contains(e.Message, PretrainedFiles.AcceptedFormats);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void PretrainedFiles_Read_MissingFile_NamesIt()
    {
        string file = Path.Combine(Path.GetTempPath(), $"hs-missing-{Guid.NewGuid():N}", "resnet18.pt");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PretrainedFiles.Read(file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, file);
        Assert.AreEqual(file, e.FileName);
    }

    [TestMethod]
    public void TorchStateDict_DataParallelPrefix_IsDropped()
    {
        PretrainedWeights plain = TorchStateDict.Read(Fixture("resnet18.pt"));
        var prefixed = plain.Tensors.ToDictionary(p => "module." + p.Key, p => p.Value);
        PretrainedWeights weights = TorchStateDict.Weights(prefixed, "parallel.pt");
        CollectionAssert.AreEquivalent(plain.Tensors.Keys.ToList(), weights.Tensors.Keys.ToList());
        prefixed.Remove("module.layer4.1.bn2.running_var");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => TorchStateDict.Weights(prefixed, "parallel.pt"));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, "no key 'module.layer4.1.bn2.running_var'");
    }

    [TestMethod]
    public void TorchStateDict_Float64_IsConvertedToFloat32()
    {
        PretrainedWeights single = TorchStateDict.Read(Fixture("resnet18.pt")), dbl = TorchStateDict.Read(Fixture("float64.pt"));
        foreach (var (name, tensor) in single.Tensors)
            CollectionAssert.AreEqual(tensor.Values, dbl.Tensors[name].Values, name);
    }

    [TestMethod]
    public void PretrainedFiles_Read_LegacyPickle_AsksForTheZipFormat()
    {
        string file = Fixture("legacy.pt");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, "legacy (pre-1.6) format; re-save it with torch.save in PyTorch 1.6 or later");
    }

    [TestMethod]
    public void PretrainedFiles_Read_WholePickledModule_AsksForTheStateDict()
    {
        string file = Fixture("whole-model.pt");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file));
        Console.WriteLine(e.Message);
        StringAssert.Contains(e.Message, $"'{file}'");
        StringAssert.Contains(e.Message, "does not read as a torch.save state_dict");
        StringAssert.Contains(e.Message, "entire model", "PyBridge's reason is kept");
    }

    [TestMethod]
    public void PretrainedFiles_Read_OverOneGiB_IsRefusedBeforeReading()
    {
        // Sparse files: their length is what is checked, and nothing is read.
        string directory = Directory.CreateTempSubdirectory("hs-huge-").FullName;
        try
        {
            foreach ((string name, byte[] head) in new[] { ("huge.pt", "PK\x03\x04"u8.ToArray()), ("huge.onnx", new byte[] { 0x08, 0x08 }) })
            {
                string file = Path.Combine(directory, name);
                using (var stream = File.Create(file))
                {
                    stream.Write(head);
                    stream.SetLength((1L << 30) + 1);
                }
                var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedFiles.Read(file), name);
                Console.WriteLine(e.Message);
                StringAssert.Contains(e.Message, $"'{file}'");
                StringAssert.Contains(e.Message, "1,073,741,825 bytes; the limit is 1,073,741,824 bytes");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void PretrainedFiles_Read_ImageNetKeywordAndCntkFile_AreMLNetsResNet18()
    {
        foreach (string source in new[] { "ImageNet", MLNetResNet18.Locate() })
        {
            PretrainedWeights weights = PretrainedFiles.Read(source);
            Assert.AreEqual(Models.Architecture.ResNet18MLNet, weights.Architecture, source);
            Assert.AreEqual(ChannelOrder.Bgr, weights.Preprocessing.Order, source);
        }
    }

    private static ImageNetResNet NewModel(IReadOnlyList<int> blocks) => new("ResNet", blocks, new ImageShape(3, Size, Size), Classes);

    /// <summary>Loads <paramref name="weights"/> into a fresh network and compares its logits on the fixture images with PyTorch's.</summary>
    private static void AssertLogitsMatchPyTorch(PretrainedWeights weights, IReadOnlyList<int> blocks, string name, string route)
    {
        float[] images = Floats("images.bin", Images * 3 * Size * Size);
        float[] expected = Floats(name + ".logits.bin", Images * Classes);
        using var model = NewModel(blocks);
        PretrainedLoad load = PretrainedLoader.Apply(model, weights, keepHead: true);
        Assert.IsEmpty(load.NewLayers);
        model.eval();
        float[] ours = Logits(model, images, Images, Size);
        double diff = MaxDiff(ours, expected);
        double largest = expected.Max(Math.Abs);
        Console.WriteLine($"{name} via {route}: max |ours - PyTorch| = {diff:E2} over logits up to {largest:F2}");
        Assert.IsGreaterThan(0.1, largest, "logits far from zero: not a vacuous match");
        Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{name} via {route}: max |ours - PyTorch| = {diff:E2}");
    }

    private static float[] Logits(ImageNetResNet model, float[] images, int count, int side)
    {
        using var _ = no_grad();
        using Tensor input = Shaped(images, count, 3, side, side);
        using Tensor logits = model.call(input);
        return Values(logits);
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.HasCount(a.Length, b);
        return a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    }

    /// <summary>Batch-norm statistics and affine parameters far from their initial values, so a reader that loses them fails.</summary>
    private static void RandomizeBatchNorms(ImageNetResNet model)
    {
        using var _ = no_grad();
        foreach (var (name, tensor) in model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers()))
        {
            if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal) || tensor.dim() != 1 || name.StartsWith("fc.", StringComparison.Ordinal)) continue;
            using Tensor r = rand(tensor.shape);
            if (name.EndsWith("running_var", StringComparison.Ordinal) || name.EndsWith(".weight", StringComparison.Ordinal)) tensor.copy_(r.add(0.5));
            else tensor.copy_(r.sub(0.5).mul(0.4));
        }
    }

    private static float[] Floats(string name, int count)
    {
        byte[] bytes = File.ReadAllBytes(Fixture(name));
        Assert.HasCount(count * sizeof(float), bytes, name);
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    /// <summary>A file torchvision_fixtures.py wrote; fails or skips (see the class remarks) when Python could not write them.</summary>
    private static string Fixture(string name)
    {
        if (fixtureProblem is not null)
        {
            string message = $"PyTorch's fixtures could not be written: {fixtureProblem} Install python3-torch and python3-torchvision (build/setup.sh does).";
            if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
                Assert.Fail(message + $" {RequireVariable}=1 (set by build/test.sh): these checks are required, so they fail rather than skip.");
            Assert.Inconclusive(message);
        }
        return Path.Combine(folder, name);
    }

    /// <summary>Runs torchvision_fixtures.py (copied beside the test assembly) into <paramref name="output"/>; null when it worked, else why not.</summary>
    private static string? WriteFixtures(string output)
    {
        if (!File.Exists(Python))
            return $"{Python} not found.";
        string script = Path.Combine(AppContext.BaseDirectory, "Engine", "Pretrained", "torchvision_fixtures.py");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(output);
        start.ArgumentList.Add("7");
        // One thread: the machine is shared, and the fixtures are tiny.
        start.Environment["OMP_NUM_THREADS"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return $"{script} did not finish within 2 minutes.";
        }
        return process.ExitCode == 0 ? null : $"{Python} {script} exited with {process.ExitCode}: {stdout.Result}{stderr.Result}";
    }
}
