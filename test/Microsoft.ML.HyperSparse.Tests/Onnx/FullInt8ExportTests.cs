using System.Diagnostics;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Network;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// Full int8 export (<see cref="OnnxQuantization.Full"/>): ONNX Runtime must run every convolution as an int8 kernel (a graph
/// with some Convs left float ran slower than float: docs/platform-notes.md), the outputs must stay close to the float
/// model's, and the int8 weights must keep the pruning mask exactly.
/// </summary>
[TestClass]
public sealed class FullInt8ExportTests
{
    private const int CalibrationImages = 16;
    private const int HeldOutImages = 32;

    private static readonly OnnxExportOptions Float = new() { LogitsOutputName = "Logits" };

    /// <summary>The engine's ImageNet ResNet-18 layout with one block per stage, 3×32×32, random weights pruned to κ.</summary>
    internal static NetworkDescription EngineResNet(double pruningRate, int seed = 11)
    {
        manual_seed(seed);
        using var model = new ImageNetResNet("ResNet18", [1, 1, 1, 1], new ImageShape(3, 32, 32), 10);
        model.eval();
        MagnitudePruning.Prune(model.PrunableLayers(), pruningRate).Dispose();
        return model.DescribeNetwork("Features", new Normalization(1f / 255, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]));
    }

    private static OnnxExportOptions Full(NetworkDescription net, int images = CalibrationImages) =>
        Float with { Quantization = OnnxQuantization.Full, CalibrationPixels = TestNetworks.Pixels(net, images, seed: 101) };

    [TestMethod]
    public void Explore()
    {
        foreach ((string name, NetworkDescription net) in new[] { ("engine", EngineResNet(0.9)), ("resnet", TestNetworks.ResNet()), ("lenet", TestNetworks.LeNet()) })
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, Full(net));
            File.WriteAllBytes($"/tmp/int8/{name}.onnx", result.Bytes);
            var ops = OptimizedOpTypes(result.Bytes, $"/tmp/int8/{name}-opt.onnx");
            Console.WriteLine($"{name}: {string.Join(" ", ops)}");
        }
    }

    /// <summary>Op types of the graph ORT runs after its extended optimisations (the level QDQ fusion happens at).</summary>
    internal static List<string> OptimizedOpTypes(byte[] model, string? keep = null)
    {
        string path = keep ?? Path.Combine(Path.GetTempPath(), $"hs-int8-opt-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { OptimizedModelFilePath = path, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, IntraOpNumThreads = 1, LogSeverityLevel = Environment.GetEnvironmentVariable("HS_ORT_VERBOSE") is null ? OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING : OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE })
            using (new InferenceSession(model, options))
            {
            }

            return OnnxModelReader.Parse(File.ReadAllBytes(path), path).Graph.Node.Select(n => n.OpType).ToList();
        }
        finally
        {
            if (keep is null)
                File.Delete(path);
        }
    }
}
