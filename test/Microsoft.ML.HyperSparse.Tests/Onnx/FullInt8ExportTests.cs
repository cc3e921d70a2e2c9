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
    [DataRow("EngineResNet")]
    [DataRow("ResNet")]
    public void OnnxModelWriter_Write_FullInt8_OnnxRuntimeRunsEveryConvAsInt8(string network)
    {
        NetworkDescription net = network == "EngineResNet" ? EngineResNet(0.9) : TestNetworks.ResNet();
        OnnxExportResult result = OnnxModelWriter.Write(net, Full(net));
        List<string> ops = OrtOptimizedGraph.OpTypes(result.Bytes);
        int convs = net.Nodes.Count(n => n is Conv2dNode), adds = net.Nodes.Count(n => n is AddNode);
        int qlinearConvs = ops.Count(o => o == "QLinearConv"), qlinearAdds = ops.Count(o => o == "QLinearAdd");
        Console.WriteLine($"{network}: {qlinearConvs} QLinearConv (description: {convs} Conv), {qlinearAdds} QLinearAdd of {adds} Add, " +
            $"Gemm: {string.Join(",", ops.Where(o => o.Contains("Gemm", StringComparison.Ordinal)))}; optimised graph: {string.Join(" ", ops)}");
        CollectionAssert.DoesNotContain(ops, "Conv", $"every convolution runs as an int8 kernel: {string.Join(" ", ops)}");
        Assert.IsGreaterThan(0, qlinearConvs);
        Assert.AreEqual(adds, qlinearAdds, "every residual Add runs as QLinearAdd");
        Assert.AreEqual(1, ops.Count(o => o == "QuantizeLinear"), "one QuantizeLinear, on the normalised input");
    }

    [TestMethod]
    [DataRow("EngineResNet")]
    [DataRow("ResNet")]
    public void OnnxModelWriter_Write_FullInt8_ScoresLikeTheFloatModelOnHeldOutImages(string network)
    {
        NetworkDescription net = network == "EngineResNet" ? EngineResNet(0.9) : TestNetworks.ResNet();
        // Held-out: other images than the calibration ones (seed 101).
        float[] pixels = TestNetworks.Pixels(net, HeldOutImages, seed: 202);
        float[] reference = OrtRunner.Run(OnnxModelWriter.Write(net, Float).Bytes, net, pixels, HeldOutImages, "Logits")["Logits"];
        float[] int8 = OrtRunner.Run(OnnxModelWriter.Write(net, Full(net)).Bytes, net, pixels, HeldOutImages, "Logits")["Logits"];
        int classes = net.ClassCount, agree = 0;
        var cosines = new double[HeldOutImages];
        for (int n = 0; n < HeldOutImages; n++)
        {
            var a = reference.AsSpan(n * classes, classes);
            var b = int8.AsSpan(n * classes, classes);
            agree += a.IndexOf(Max(a)) == b.IndexOf(Max(b)) ? 1 : 0;
            cosines[n] = Cosine(a, b);
        }

        Console.WriteLine($"{network}: arg-max agreement {agree}/{HeldOutImages}, logit cosine mean {cosines.Average():F4}, min {cosines.Min():F4}");
        Assert.IsGreaterThanOrEqualTo(0.99, cosines.Min(), $"every image's logits within cosine 0.99 of float (min {cosines.Min():F4})");
        Assert.IsGreaterThanOrEqualTo(HeldOutImages * 0.9, agree, $"arg-max agreement {agree}/{HeldOutImages}");
    }

    [TestMethod]
    [DataRow("Compact")]
    [DataRow("Dense")]
    [DataRow("SparseInitializer")]
    public void OnnxModelWriter_Write_FullInt8_KeepsZerosExactAndKeptWeightsNonZero(string encodingName)
    {
        var encoding = Enum.Parse<OnnxWeightEncoding>(encodingName);
        NetworkDescription net = EngineResNet(0.9);
        // Every channel written, so the graph's convolutions are the lowered (batch-norm-folded) ones one to one.
        OnnxExportOptions options = Full(net) with { WeightEncoding = encoding, ShrinkDeadChannels = false };
        GraphProto graph = OnnxModelReader.Parse(OnnxModelWriter.Write(net, options).Bytes, "full int8").Graph;
        var folder = new OnnxConstantFolder(graph, OnnxModelWriter.OpsetVersion);
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        int checkedLayers = 0;
        foreach (Conv2dNode conv in NetworkLowering.Lower(net).OfType<Conv2dNode>())
        {
            NodeProto dequantize = producers[TestNetworks.WeightTensor(graph, conv.Name)];
            Assert.AreEqual("DequantizeLinear", dequantize.OpType, conv.Name);
            Assert.AreEqual(0L, dequantize.Attribute.Single(a => a.Name == "axis").I, $"{conv.Name}: per output channel");
            ConstantTensor levels = folder.Evaluate(dequantize.Input[0]);
            ConstantTensor scales = folder.Evaluate(dequantize.Input[1]);
            Assert.AreEqual(global::Onnx.TensorProto.Types.DataType.Int8, levels.Type, conv.Name);
            CollectionAssert.AreEqual(new long[] { conv.OutChannels }, scales.Dims.ToArray(), $"{conv.Name}: one scale per output channel");
            Assert.IsTrue(scales.Floats!.All(v => v > 0f && float.IsFinite(v)), $"{conv.Name}: every scale positive, all-zero channels included");
            long[] values = levels.Integers!;
            for (int i = 0; i < conv.Weight.Length; i++)
                Assert.AreEqual(conv.Weight[i] == 0f, values[i] == 0, $"{conv.Name}[{i}]: weight {conv.Weight[i]}, level {values[i]}");
            checkedLayers++;
        }

        Assert.AreEqual(net.Nodes.Count(n => n is Conv2dNode), checkedLayers);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_FullInt8_ReportsWhatWasCalibrated()
    {
        NetworkDescription net = TestNetworks.ResNet();
        OnnxExportResult result = OnnxModelWriter.Write(net, Full(net, images: 5));
        OnnxCalibration calibration = result.Calibration ?? throw new AssertFailedException("no calibration reported");
        Assert.AreEqual(5, calibration.ImageCount);
        // Normalised input; stem ReLU, its max-pool (same scale); block ReLU, conv2 and shortcut outputs (Add inputs); the Add.
        CollectionAssert.AreEqual(
            new[] { NetworkDescription.NormalizedTensor, "s.r", "s.p", "b.r1", "b.b2", "b.db", "b.sum" },
            calibration.Tensors.Select(t => t.Tensor).ToArray());
        OnnxActivationRange pool = calibration.Tensors.Single(t => t.Tensor == "s.p");
        OnnxActivationRange relu = calibration.Tensors.Single(t => t.Tensor == "s.r");
        Assert.AreEqual("s.r", pool.ScaleOf);
        Assert.AreEqual(relu.Scale, pool.Scale);
        foreach (OnnxActivationRange range in calibration.Tensors)
        {
            Assert.IsLessThanOrEqualTo(range.Max, range.Min, range.Tensor);
            Assert.IsGreaterThan(0f, range.Scale, range.Tensor);
            Assert.AreEqual(Math.Max(range.Max, 0) - Math.Min(range.Min, 0), range.Scale * 255, range.Scale, $"{range.Tensor}: 256 levels span the range");
        }

        Assert.IsTrue(calibration.Tensors.Where(t => t.Tensor is "s.r" or "s.p" or "b.r1").All(t => t.Min == 0f && t.ZeroPoint == 0), "ReLU outputs: zero point 0");
        CollectionAssert.AreEqual(new[] { "fc" }, calibration.FloatLayers.ToArray(), "the classifier runs float");
        Assert.IsNull(OnnxModelWriter.Write(net, Float).Calibration);
        Assert.AreEqual(5, OnnxModelInspector.Inspect(OnnxModelReader.Parse(result.Bytes, "t"), result.Bytes.LongLength).Contract?.CalibrationImages);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_FullInt8_InspectorReadsTheFile()
    {
        NetworkDescription net = EngineResNet(0.98);
        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
        {
            OnnxExportResult written = OnnxModelWriter.Write(net, Full(net) with { WeightEncoding = encoding });
            OnnxInspection read = OnnxModelInspector.Inspect(OnnxModelReader.Parse(written.Bytes, "full int8"), written.Bytes.LongLength);
            Assert.IsEmpty(read.Warnings, $"{encoding}: {string.Join(" | ", read.Warnings)}");
            CollectionAssert.AreEqual(written.Size.Layers.Select(l => (l.Name, l.KeptCount, l.Quantized)).ToArray(),
                read.Layers.Select(l => (l.NodeName, l.Size.KeptCount, l.Size.Quantized)).ToArray(), encoding.ToString());
        }
    }

    [TestMethod]
    public void OnnxModelWriter_Write_FullInt8_SizeAgainstWeightsOnlyAndFloat()
    {
        NetworkDescription net = EngineResNet(0.98);
        OnnxExportResult fullResult = OnnxModelWriter.Write(net, Full(net));
        long full = fullResult.Bytes.LongLength;
        Assert.IsTrue(fullResult.Size.Layers.Where(l => l.Prunable).All(l => l.Encoding == OnnxWeightEncoding.Compact && l.Quantized),
            "the pruned layers stay in the Compact encoding, as int8");
        OnnxExportResult weightsOnly = OnnxModelWriter.Write(net, Float with { QuantizeWeights = true });
        OnnxExportResult floatCompact = OnnxModelWriter.Write(net, Float);
        Console.WriteLine($"ResNet-18 [1,1,1,1] 32×32 κ 0.98: full int8 {full:N0} bytes, weights-only int8 {weightsOnly.Bytes.LongLength:N0}, " +
            $"float Compact {floatCompact.Bytes.LongLength:N0}, dense {floatCompact.Size.DenseBytes:N0}, bound (float values) {floatCompact.Size.BoundBytes:N0}");
        // The Q/DQ pairs cost two scalars and two nodes each; the weights stay Compact int8.
        Assert.IsLessThan(weightsOnly.Bytes.LongLength * 1.15, (double)full);
        Assert.IsLessThan(floatCompact.Bytes.LongLength, full);
    }

    [TestMethod]
    public void OnnxExportOptions_Quantization_QuantizeWeightsMapsToWeightsOnly()
    {
        Assert.AreEqual(OnnxQuantization.WeightsOnly, new OnnxExportOptions { QuantizeWeights = true }.Quantization);
        Assert.AreEqual(OnnxQuantization.None, new OnnxExportOptions { QuantizeWeights = false }.Quantization);
        Assert.IsTrue(new OnnxExportOptions { Quantization = OnnxQuantization.Full }.QuantizeWeights);
        Assert.AreEqual(OnnxQuantization.Full, new OnnxExportOptions { Quantization = OnnxQuantization.Full, QuantizeWeights = true }.Quantization);
        Assert.AreEqual(OnnxQuantization.None, (new OnnxExportOptions { Quantization = OnnxQuantization.Full } with { QuantizeWeights = false }).Quantization);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_FullInt8WithoutCalibrationImagesNamesTheOption()
    {
        NetworkDescription net = TestNetworks.ResNet();
        var missing = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(net, Float with { Quantization = OnnxQuantization.Full }));
        StringAssert.Contains(missing.Message, "CalibrationPixels");
        StringAssert.Contains(missing.Message, "null");
        var ragged = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(net, Float with { Quantization = OnnxQuantization.Full, CalibrationPixels = new float[3 * 12 * 12 + 1] }));
        StringAssert.Contains(ragged.Message, "433 values");
    }

    private static float Max(ReadOnlySpan<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values)
            max = Math.Max(max, v);
        return max;
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

}
