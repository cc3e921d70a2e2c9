using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

[TestClass]
public sealed class Int8WeightsTests
{
    private const int Batch = 3;

    [TestMethod]
    public void Int8Quantizer_Quantize_PerChannelSymmetricKeepsTheMask()
    {
        // Two output channels of four: max |w| 2.54 → scale 0.02; max 0.127 → scale 0.001.
        float[] weight = [2.54f, -1.27f, 0f, 0.0001f, 0f, 0.127f, -0.05f, 0.0004f];
        (sbyte[] levels, float[] scales) = Int8Quantizer.Quantize(weight, 2);
        Assert.AreEqual(2.54f / 127f, scales[0]);
        Assert.AreEqual(0.127f / 127f, scales[1]);
        CollectionAssert.AreEqual(new sbyte[] { 127, -64, 0, 1, 0, 127, -50, 1 }, levels,
            "round to nearest level; 0.0001 and 0.0004 would round to 0 and are kept as ±1; zeros stay zero");
        float[] back = Int8Quantizer.Dequantize(levels, scales);
        CollectionAssert.AreEqual(weight.Select(w => w == 0f).ToArray(), back.Select(w => w == 0f).ToArray(), "same mask");
        for (int i = 0; i < weight.Length; i++)
            if (Math.Abs(levels[i]) > 1)
                Assert.IsLessThanOrEqualTo(scales[i / 4] / 2 * 1.0001, Math.Abs(back[i] - weight[i]), $"element {i}: within half a step");
    }

    [TestMethod]
    public void Int8Quantizer_Quantize_AllZeroChannelHasScaleZeroAndNonFiniteIsRejected()
    {
        (sbyte[] levels, float[] scales) = Int8Quantizer.Quantize([0f, 0f, 1f, -1f], 2);
        Assert.AreEqual(0f, scales[0]);
        CollectionAssert.AreEqual(new sbyte[] { 0, 0, 127, -127 }, levels);
        var error = Assert.ThrowsExactly<ArgumentException>(() => Int8Quantizer.Quantize([float.NaN, 1f], 1));
        StringAssert.Contains(error.Message, "finite");
    }

    [TestMethod]
    [DataRow("LeNet")]
    [DataRow("ResNet")]
    public void OnnxModelWriter_Write_Int8EveryEncodingScoresLikeTheDenseFileOfTheDequantizedWeights(string network)
    {
        NetworkDescription net = network == "LeNet" ? TestNetworks.LeNet() : TestNetworks.ResNet();
        // The reference: the same network with every (batch-norm-folded) weight replaced by its int8 round trip, written dense.
        // Every channel is written (no dead-channel shrink): the shrink folds removed float weights into biases, so its int8
        // file is compared with the unshrunk int8 file in DeadChannelShrinkTests.
        OnnxExportOptions unshrunk = new() { ShrinkDeadChannels = false, LogitsOutputName = "Logits" };
        var lowered = NetworkLowering.Lower(net);
        // Every channel's scale is rounded up to the model's 256-entry table, whose top is the largest channel scale.
        var table = Int8ScaleTable.For(lowered.SelectMany(n => n switch
        {
            Conv2dNode c => Int8Quantizer.Scales(c.Weight, c.OutChannels),
            LinearNode l => Int8Quantizer.Scales(l.Weight, l.OutFeatures),
            _ => [],
        }).Max());
        var reference = new NetworkDescription
        {
            InputName = net.InputName, Channels = net.Channels, Height = net.Height, Width = net.Width, ClassCount = net.ClassCount,
            PixelScale = net.PixelScale, Mean = net.Mean, Std = net.Std,
            Nodes = lowered.Select(n => n switch
            {
                Conv2dNode c => c with { Weight = RoundTrip(c.Weight, c.OutChannels, table) },
                LinearNode l => l with { Weight = RoundTrip(l.Weight, l.OutFeatures, table) },
                _ => n,
            }).ToList(),
        };
        float[] pixels = TestNetworks.Pixels(net, Batch);
        float[] expected = OrtRunner.Run(OnnxModelWriter.Write(reference, unshrunk with { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes,
            reference, pixels, Batch, "Logits")["Logits"];
        float[] floatLogits = OrtRunner.Run(OnnxModelWriter.Write(net, unshrunk).Bytes, net, pixels, Batch, "Logits")["Logits"];
        CollectionAssert.AreNotEqual(floatLogits, expected, "int8 changes the logits a little");

        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, unshrunk with { WeightEncoding = encoding, QuantizeWeights = true });
            float[] logits = OrtRunner.Run(result.Bytes, net, pixels, Batch, "Logits")["Logits"];
            CollectionAssert.AreEqual(expected, logits, $"{encoding}: bit-identical to the dense file of the dequantised weights; max |Δ| {expected.Zip(logits).Max(p => Math.Abs(p.First - p.Second))}; {string.Join(",", expected.Take(5))} vs {string.Join(",", logits.Take(5))}");
            Assert.IsTrue(result.Size.Layers.All(l => l.Quantized), encoding.ToString());
            var floatLayers = OnnxModelWriter.Write(net, unshrunk with { WeightEncoding = encoding }).Size.Layers;
            CollectionAssert.AreEqual(floatLayers.Select(l => l.KeptCount).ToArray(), result.Size.Layers.Select(l => l.KeptCount).ToArray(), "the mask survives");

            // The inspector reads the same per-layer figures back from the file.
            var read = OnnxModelInspector.Inspect(OnnxModelReader.Parse(result.Bytes, "int8"), result.Bytes.LongLength);
            Assert.AreEqual(0, read.Warnings.Count, string.Join("\n", read.Warnings));
            CollectionAssert.AreEqual(result.Size.Layers.Select(l => (l.Name, l.KeptCount, l.Encoding, l.WeightBytes, l.Quantized)).ToArray(),
                read.Layers.Select(l => (l.NodeName, l.Size.KeptCount, l.Size.Encoding, l.Size.WeightBytes, l.Size.Quantized)).ToArray(), encoding.ToString());
        }
    }

    [TestMethod]
    public void OnnxModelWriter_Write_Int8CompactIsAboutAQuarterOfTheValueBytes()
    {
        NetworkDescription net = TestNetworks.Wide(0.98);
        long compact = OnnxModelWriter.Write(net, new()).Size.ShippedBytes;
        OnnxExportResult int8 = OnnxModelWriter.Write(net, new() { QuantizeWeights = true });
        long kept = int8.Size.Layers.Where(l => l.Prunable).Sum(l => l.KeptCount);
        // Each kept value goes from 4 bytes to 1; per-channel scales and the Mul nodes cost a little back.
        Assert.IsLessThan(compact - 2.5 * kept, int8.Size.ShippedBytes, $"compact {compact} B, int8 {int8.Size.ShippedBytes} B, kept {kept}");
    }

    [TestMethod]
    public void Int8ScaleTable_RoundUp_IsTheSmallestEntryNotBelowTheScale()
    {
        var table = Int8ScaleTable.For(0.0375f);
        Assert.AreEqual(256, table.Values.Length);
        Assert.AreEqual(0.0625f, table.Values[0], "the top entry is the smallest power of two ≥ the largest scale");
        Assert.AreEqual(0.0625f, Int8ScaleTable.For(0.0625f).Values[0], "a power of two is its own top");
        for (int k = 1; k < table.Values.Length; k++)
            Assert.IsTrue(table.Values[k] < table.Values[k - 1], $"entries fall strictly with the index ({k})");
        for (int i = 0; i < Int8ScaleTable.Steps; i++)
            for (int j = 0; j < Int8ScaleTable.Steps; j++)
                Assert.AreEqual(table.Octaves[i] * table.Fractions[j], table.Values[i * Int8ScaleTable.Steps + j], "one float multiply per entry, as the graph does");

        var random = new Random(5);
        for (int n = 0; n < 2000; n++)
        {
            float scale = 0.0625f * MathF.Pow(2f, -16f * random.NextSingle());
            float stored = table.RoundUp(scale);
            Assert.IsTrue(stored >= scale, $"{stored:R} < {scale:R}: a level would overflow ±127");
            Assert.IsTrue(stored <= scale * 1.0444f, $"{stored:R} is more than one 2^(1/16) step above {scale:R}");
            Assert.AreEqual(stored, table.Values[table.Code(stored)]);
        }

        // Below the table's range: the smallest entry (still ≥ the scale); the top itself maps to code 0.
        Assert.AreEqual(table.Values[^1], table.RoundUp(1e-12f));
        Assert.AreEqual(0, table.Code(0.0625f));
        Assert.AreEqual(table.RoundUp(0.0375f), table.Values[table.Code(0.0375f)]);
        Assert.ThrowsExactly<ArgumentException>(() => Int8ScaleTable.For(0f));
    }

    [TestMethod]
    public void Int8ScaleTable_StoredScales_KeepLevelsWithin127AndTheMask()
    {
        float[] weight = [0.5f, -0.25f, 0f, 0.001f, 3e-4f, 0f, -2e-4f, 1e-4f];
        var table = Int8ScaleTable.For(Int8Quantizer.Scales(weight, 2).Max());
        (sbyte[] levels, float[] scales) = Int8Quantizer.Quantize(weight, 2, table.RoundUp);
        CollectionAssert.AreEqual(new[] { table.RoundUp(0.5f / 127), table.RoundUp(3e-4f / 127) }, scales);
        Assert.IsTrue(levels.All(l => l is >= -127 and <= 127));
        CollectionAssert.AreEqual(weight.Select(w => w != 0f).ToArray(), levels.Select(l => l != 0).ToArray(), "zeros stay zero, kept stay kept");
    }

    private static float[] RoundTrip(float[] weight, int outChannels, Int8ScaleTable table)
    {
        (sbyte[] levels, float[] scales) = Int8Quantizer.Quantize(weight, outChannels, table.RoundUp);
        return Int8Quantizer.Dequantize(levels, scales);
    }
}
