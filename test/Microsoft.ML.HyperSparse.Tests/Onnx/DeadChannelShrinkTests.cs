using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.ML.HyperSparse.Onnx;
using Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// The exporter's dead-channel shrink on hand-made networks with planted dead channels: what goes, what must stay, and that
/// ONNX Runtime scores the shrunk file like the unshrunk one (and like the naive reference) in every encoding.
/// </summary>
[TestClass]
public sealed class DeadChannelShrinkTests
{
    private const int Batch = 4;
    private const double Tolerance = 1e-4;
    // The planted networks test the removal logic itself: no channel-block rounding (its own test below).
    private static readonly OnnxExportOptions Shrunk = new() { LogitsOutputName = "Logits", ShrinkChannelBlock = 1 };
    private static readonly OnnxExportOptions Unshrunk = Shrunk with { ShrinkDeadChannels = false };

    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// conv1(3→8, 5×5, no pad) relu maxpool conv2(8→12, 3×3, no pad) relu avgpool flatten fc1(48→20) relu fc2(20→5, dense).
    /// Planted: conv1 filters 1 (bias +0.3) and 4 (bias −0.2) all zero; conv2 filter 2 zero except on the dead conv1 channel
    /// 1 (a constant fed by a constant, bias +0.25) and filter 7 zero (bias −0.15); conv2 channel 10 read by nothing (its fc1
    /// columns are zero); fc1 neurons 3 (bias +0.2) and 11 (bias −0.3) all zero. Input 3×16×16.
    /// </summary>
    internal static NetworkDescription PlantedLeNet()
    {
        var random = new Random(21);
        float[] conv1 = TestNetworks.Sparse(random, 8 * 75, 0.5), conv1Bias = TestNetworks.Uniform(random, 8, 0.1);
        Dead(conv1, conv1Bias, 75, 1, 0.3f);
        Dead(conv1, conv1Bias, 75, 4, -0.2f);
        float[] conv2 = TestNetworks.Sparse(random, 12 * 72, 0.6), conv2Bias = TestNetworks.Uniform(random, 12, 0.1);
        Dead(conv2, conv2Bias, 72, 2, 0.25f);
        for (int k = 0; k < 9; k++)
            conv2[2 * 72 + 1 * 9 + k] = 0.05f * (k - 3);
        Dead(conv2, conv2Bias, 72, 7, -0.15f);
        float[] fc1 = TestNetworks.Sparse(random, 20 * 48, 0.5), fc1Bias = TestNetworks.Uniform(random, 20, 0.1);
        for (int o = 0; o < 20; o++)
            Array.Clear(fc1, o * 48 + 10 * 4, 4);
        Dead(fc1, fc1Bias, 48, 3, 0.2f);
        Dead(fc1, fc1Bias, 48, 11, -0.3f);
        return new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = 16, Width = 16, ClassCount = 5,
            PixelScale = 1f / 255, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
            Nodes =
            [
                new Conv2dNode("conv1", NetworkDescription.NormalizedTensor, "c1", 8, 3, 5, 5, 1, 1, 0, 0, conv1, conv1Bias, Prunable: true),
                new ReluNode("relu1", "c1", "r1"),
                new MaxPoolNode("pool1", "r1", "p1", Kernel: 2, Stride: 2),
                new Conv2dNode("conv2", "p1", "c2", 12, 8, 3, 3, 1, 1, 0, 0, conv2, conv2Bias, Prunable: true),
                new ReluNode("relu2", "c2", "r2"),
                new AvgPoolNode("pool2", "r2", "p2", Kernel: 2, Stride: 2),
                new FlattenNode("flatten", "p2", "f"),
                new LinearNode("fc1", "f", "h", 20, 48, fc1, fc1Bias, Prunable: true),
                new ReluNode("relu3", "h", "hr"),
                new LinearNode("fc2", "hr", NetworkDescription.LogitsTensor, 5, 20,
                    TestNetworks.Uniform(random, 100, 0.3), TestNetworks.Uniform(random, 5, 0.1), Prunable: false),
            ],
        };
    }

    /// <summary>
    /// stem conv(3→8, pad 1)+BN relu; block1 (identity shortcut): conv(8→8, pad 1)+BN relu conv(8→8, pad 1)+BN, Add, relu;
    /// block2 (1×1 conv shortcut, stride 2): conv(8→16, pad 1)+BN relu conv(16→16, pad 1)+BN, conv1×1(8→16)+BN, Add, relu;
    /// global average pool, flatten, fc(16→10, dense). Planted (constants after BN folding and ReLU):
    /// <list type="bullet">
    /// <item>residual stream 1: channel 2 dead in both addends (0.5 + 0.3), channel 6 dead in both (0 + 0.6), channel 5 dead
    /// in the stem only (0.3; block1.conv2's filter 5 is alive), so it must stay;</item>
    /// <item>block1 inner (read by a padded conv): channels 1 (0.4) and 4 (0.2) dead, channel 3 dead with ReLU giving 0;</item>
    /// <item>block2 inner: channels 0 (0.5) and 3 (0.25) dead, 7 dead at 0;</item>
    /// <item>residual stream 2: channel 9 dead in the conv branch and in the 1×1 shortcut (ReLU(0.2 − 0.4) = 0), channel 12 dead
    /// in the conv branch only.</item>
    /// </list>
    /// Input 3×8×8, pixel scale 1.
    /// </summary>
    internal static NetworkDescription PlantedResNet()
    {
        var random = new Random(22);
        Conv2dNode Conv(string name, string input, string output, int outC, int inC, int k, int stride, int pad, double sparsity, params int[] dead)
        {
            float[] weight = TestNetworks.Sparse(random, outC * inC * k * k, sparsity);
            foreach (int row in dead)
                Array.Clear(weight, row * inC * k * k, inC * k * k);
            return new Conv2dNode(name, input, output, outC, inC, k, k, stride, stride, pad, pad, weight, null, Prunable: true);
        }

        BatchNormNode Bn(string name, string input, string output, int channels, params (int Channel, float Bias)[] planted)
        {
            BatchNormNode bn = TestNetworks.BatchNorm(random, name, input, output, channels);
            foreach ((int channel, float bias) in planted)
            {
                // Mean 0: the folded bias of an all-zero filter is exactly β.
                bn.Mean[channel] = 0f;
                bn.Bias[channel] = bias;
            }

            return bn;
        }

        return new NetworkDescription
        {
            InputName = "pixels", Channels = 3, Height = 8, Width = 8, ClassCount = 10,
            Mean = [0.5f, -0.25f, 0.125f], Std = [0.5f, 2f, 0.3f],
            Nodes =
            [
                Conv("stem.conv", NetworkDescription.NormalizedTensor, "s.c", 8, 3, 3, 1, 1, 0.3, 2, 5, 6),
                Bn("stem.bn", "s.c", "s.b", 8, (2, 0.5f), (5, 0.3f), (6, -0.5f)),
                new ReluNode("stem.relu", "s.b", "s.r"),
                Conv("block1.conv1", "s.r", "b1.c1", 8, 8, 3, 1, 1, 0.5, 1, 3, 4),
                Bn("block1.bn1", "b1.c1", "b1.b1", 8, (1, 0.4f), (3, -0.4f), (4, 0.2f)),
                new ReluNode("block1.relu1", "b1.b1", "b1.r1"),
                Conv("block1.conv2", "b1.r1", "b1.c2", 8, 8, 3, 1, 1, 0.5, 2, 6),
                Bn("block1.bn2", "b1.c2", "b1.b2", 8, (2, 0.3f), (6, 0.6f)),
                new AddNode("block1.add", "b1.b2", "s.r", "b1.sum"),
                new ReluNode("block1.relu", "b1.sum", "b1.out"),
                Conv("block2.conv1", "b1.out", "b2.c1", 16, 8, 3, 2, 1, 0.5, 0, 3, 7),
                Bn("block2.bn1", "b2.c1", "b2.b1", 16, (0, 0.5f), (3, 0.25f), (7, -0.3f)),
                new ReluNode("block2.relu1", "b2.b1", "b2.r1"),
                Conv("block2.conv2", "b2.r1", "b2.c2", 16, 16, 3, 1, 1, 0.7, 9, 12),
                Bn("block2.bn2", "b2.c2", "b2.b2", 16, (9, 0.2f), (12, -0.1f)),
                Conv("block2.down.conv", "b1.out", "b2.dc", 16, 8, 1, 2, 0, 0.3, 9),
                Bn("block2.down.bn", "b2.dc", "b2.db", 16, (9, -0.4f)),
                new AddNode("block2.add", "b2.b2", "b2.db", "b2.sum"),
                new ReluNode("block2.relu", "b2.sum", "b2.out"),
                new GlobalAvgPoolNode("pool", "b2.out", "g"),
                new FlattenNode("flatten", "g", "f"),
                new LinearNode("fc", "f", NetworkDescription.LogitsTensor, 10, 16,
                    TestNetworks.Uniform(random, 160, 0.01), TestNetworks.Uniform(random, 10, 0.1), Prunable: false),
            ],
        };
    }

    [TestMethod]
    public void DeadChannelShrink_Apply_LeNetFoldsDeadFiltersAndNeuronsAndDropsUnreadChannels()
    {
        NetworkDescription net = PlantedLeNet();
        OnnxExportResult shrunk = OnnxModelWriter.Write(net, Shrunk);

        // conv1 loses its 2 dead filters; conv2 its 2 dead filters and channel 10 nobody reads (a live filter, 4 fc1 columns);
        // fc1 its 2 dead neurons; fc2, whose output is the logits, keeps every row.
        AssertShapes(shrunk.Size, ("conv1", [6, 3, 5, 5]), ("conv2", [9, 6, 3, 3]), ("fc1", [18, 36]), ("fc2", [5, 18]));
        ShrunkLayer conv2 = Layer(net, "conv2");
        CollectionAssert.AreEqual(new[] { 0, 1, 3, 4, 5, 6, 8, 9, 11 }, conv2.KeptRows);
        CollectionAssert.AreEqual(new[] { 0, 2, 3, 5, 6, 7 }, conv2.KeptInputs);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19 }, Layer(net, "fc1").KeptRows);
        Assert.AreEqual(2L + 3 + 2, shrunk.Size.Layers.Sum(l => l.OutputChannelsRemoved), "rows removed");

        AssertScoresLikeUnshrunk(net, Shrunk, "LeNet");
    }

    [TestMethod]
    public void DeadChannelShrink_Apply_ResNetResidualChannelGoesOnlyWhenDeadInEveryAddend()
    {
        NetworkDescription net = PlantedResNet();
        OnnxExportResult shrunk = OnnxModelWriter.Write(net, Shrunk);

        // Stream 1 loses channel 6 (dead in both addends). Channel 5 (dead in the stem only) stays, and so does channel 2,
        // dead in both: block2.conv1 pads with zeros, so one non-zero constant channel of its input is kept and the other
        // (6) is merged into its weights. Block1's inner channels 3 (zero) and 4 (merged into 1) go; block2's inner 3 and 7
        // go (0 kept for the merge); stream 2 loses channel 9 (dead in the conv branch and the 1×1 shortcut) but keeps 12.
        AssertShapes(shrunk.Size,
            ("stem.conv", [7, 3, 3, 3]), ("block1.conv1", [6, 7, 3, 3]), ("block1.conv2", [7, 6, 3, 3]),
            ("block2.conv1", [14, 7, 3, 3]), ("block2.conv2", [15, 14, 3, 3]), ("block2.down.conv", [15, 7, 1, 1]), ("fc", [10, 15]));
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4, 5, 7 }, Layer(net, "stem.conv").KeptRows, "stream 1 keeps 5 (and 2)");
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4, 5, 7 }, Layer(net, "block1.conv2").KeptRows, "both addends of stream 1 alike");
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 5, 6, 7 }, Layer(net, "block1.conv1").KeptRows, "1 kept for the merge");
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15 }, Layer(net, "block2.conv1").KeptRows);
        int[] stream2 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];
        CollectionAssert.AreEqual(stream2, Layer(net, "block2.conv2").KeptRows, "stream 2 keeps 12");
        CollectionAssert.AreEqual(stream2, Layer(net, "block2.down.conv").KeptRows, "the shortcut's addend alike");
        CollectionAssert.AreEqual(stream2, Layer(net, "fc").KeptInputs);

        AssertScoresLikeUnshrunk(net, Shrunk, "ResNet");
    }

    [TestMethod]
    [DataRow("LeNet", "conv2", 1, 1)]
    [DataRow("LeNet", "fc1", 1, 4)]
    [DataRow("ResNet", "block2.conv1", 1, 6)]
    public void DeadChannelShrink_Apply_LayerThatCollapsesKeepsOneChannel(string network, string layer, int outputs, int inputs)
    {
        NetworkDescription planted = network == "LeNet" ? PlantedLeNet() : PlantedResNet();
        NetworkDescription net = WithNodes(planted, planted.Nodes.Select(n => n switch
        {
            Conv2dNode c when c.Name == layer => c with { Weight = new float[c.Weight.Length] },
            LinearNode l when l.Name == layer => l with { Weight = new float[l.Weight.Length] },
            _ => n,
        }));

        OnnxExportResult shrunk = OnnxModelWriter.Write(net, Shrunk);
        OnnxLayerSize collapsed = shrunk.Size.Layers.Single(l => l.Name == layer);
        Assert.AreEqual((long)outputs, collapsed.Shape[0], "one constant channel left, never none");
        Assert.AreEqual((long)inputs, collapsed.Shape[1]);
        Assert.AreEqual(0L, collapsed.KeptCount);
        // A tensor never loses its last channel, whatever collapses before or after it.
        Assert.IsTrue(shrunk.Size.Layers.All(l => l.Shape.All(d => d >= 1)), string.Join(", ", shrunk.Size.Layers.Select(l => $"{l.Name} {string.Join('x', l.Shape)}")));

        float[] logits = AssertScoresLikeUnshrunk(net, Shrunk, $"{network} {layer} collapsed");
        if (network == "LeNet")
        {
            // What feeds the collapsed layer is read by nothing and what follows it is constant: one channel each (fc2 writes
            // the logits and keeps its rows), and the same logits for every image.
            Assert.IsTrue(shrunk.Size.Layers.Where(l => l.Name != "fc2").All(l => l.Shape[0] == 1 && l.KeptCount == 0));
            float[] first = logits[..5];
            for (int b = 1; b < Batch; b++)
                CollectionAssert.AreEqual(first, logits[(b * 5)..((b + 1) * 5)]);
        }
    }

    [TestMethod]
    [DataRow("LeNet")]
    [DataRow("ResNet")]
    public void OnnxModelWriter_Write_ShrunkMatchesUnshrunkInEveryEncodingAndInt8KeepsTheKeptLevels(string network)
    {
        NetworkDescription net = network == "LeNet" ? PlantedLeNet() : PlantedResNet();
        float[] pixels = TestNetworks.Pixels(net, Batch);
        float[]? shrunkDense = null;
        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
        {
            float[] logits = AssertScoresLikeUnshrunk(net, Shrunk with { WeightEncoding = encoding }, $"{network} {encoding}");
            shrunkDense ??= logits;
            CollectionAssert.AreEqual(shrunkDense, logits, $"{encoding}: bit-identical to the shrunk dense file");
        }

        // int8: the shrunk file's removed contributions are folded from the float weights, the unshrunk file's are computed
        // from int8 levels, so the two differ by quantisation error only: no more than int8 differs from float at all.
        float[] floats = Logits(OnnxModelWriter.Write(net, Unshrunk).Bytes, net, pixels);
        float[] int8Unshrunk = Logits(OnnxModelWriter.Write(net, Unshrunk with { QuantizeWeights = true }).Bytes, net, pixels);
        double quantisation = MaxDifference(floats, int8Unshrunk);
        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
        {
            OnnxExportResult int8 = OnnxModelWriter.Write(net, Shrunk with { WeightEncoding = encoding, QuantizeWeights = true });
            Assert.IsTrue(int8.Size.Layers.All(l => l.Quantized));
            float[] logits = Logits(int8.Bytes, net, pixels);
            double difference = MaxDifference(int8Unshrunk, logits);
            TestContext.WriteLine($"{network} {encoding}+int8: max |shrunk − unshrunk| {difference:E2}, int8 vs float {quantisation:E2}, max |logit| {floats.Max(v => Math.Abs(v)):F2}");
            Assert.IsTrue(quantisation > 0 && difference <= quantisation, $"{encoding}+int8: {difference:E3} vs the quantisation error {quantisation:E3}");
        }

        // Scales are per output channel: where a kept row's largest |w| survived the shrink, every weight copied unchanged
        // has the same int8 level and scale as in the unshrunk file.
        GraphProto unshrunkGraph = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(net, Unshrunk with { QuantizeWeights = true }).Bytes).Graph;
        GraphProto shrunkGraph = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(net, Shrunk with { QuantizeWeights = true }).Bytes).Graph;
        var before = new OnnxConstantFolder(unshrunkGraph, OnnxModelWriter.OpsetVersion);
        var after = new OnnxConstantFolder(shrunkGraph, OnnxModelWriter.OpsetVersion);
        IReadOnlyList<NetworkNode> lowered = NetworkLowering.Lower(net);
        DeadChannelShrinkResult shrink = DeadChannelShrink.Apply(lowered, net, channelBlock: 1);
        int compared = 0;
        foreach (ShrunkLayer layer in shrink.Layers)
        {
            float[] original = Weight(lowered, layer.Name), kept = Weight(shrink.Nodes, layer.Name);
            float[] levelsBefore = before.Evaluate(TestNetworks.WeightTensor(unshrunkGraph, layer.Name)).Floats!;
            float[] levelsAfter = after.Evaluate(TestNetworks.WeightTensor(shrunkGraph, layer.Name)).Floats!;
            int oldRow = original.Length / (int)layer.OriginalShape[0], newRow = kept.Length / (int)layer.Shape[0];
            int slice = newRow / layer.KeptInputs.Length;
            for (int r = 0; r < layer.KeptRows.Length; r++)
            {
                int o = layer.KeptRows[r];
                if (original.Skip(o * oldRow).Take(oldRow).Max(v => Math.Abs(v)) != kept.Skip(r * newRow).Take(newRow).Max(v => Math.Abs(v)))
                    continue;
                for (int j = 0; j < layer.KeptInputs.Length; j++)
                for (int k = 0; k < slice; k++)
                {
                    int from = o * oldRow + layer.KeptInputs[j] * slice + k, to = r * newRow + j * slice + k;
                    if (original[from] != 0f && original[from] == kept[to])
                    {
                        Assert.AreEqual(levelsBefore[from], levelsAfter[to], $"{layer.Name} row {o} input {layer.KeptInputs[j]}");
                        compared++;
                    }
                }
            }
        }

        Assert.IsGreaterThan(100, compared, "kept weights compared");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_ShrinkOffWritesTheFileWrittenBeforeTheShrinkExisted()
    {
        // SHA-256 of the files the writer produced before the dead-channel shrink existed (commit ea2dbbe). Turning the shrink
        // off must give exactly those bytes; an intended change of the encoder changes them too and must update them here
        // (the int8 row: per-channel scales stored as one-byte indices into a 256-entry table, written alongside the shrink).
        (string Network, OnnxWeightEncoding Encoding, bool Int8, string Sha256)[] before =
        [
            ("LeNet", OnnxWeightEncoding.Compact, false, "635180347F6A2A1D668758973E09348F0B0C9E4CB78412815E256EE612BEA7B9"),
            ("ResNet", OnnxWeightEncoding.Compact, true, "7B4BEB53FFC353E3D5A12E8F975CD28F0A59E0AF14F39F9B1AC4FFA65DC61995"),
            ("ResNet", OnnxWeightEncoding.SparseInitializer, false, "77D3C35EFF84DD3EC4649CF11F0890BDC98CE47FE1F614D93787291923E78679"),
            ("SharedConv", OnnxWeightEncoding.Dense, false, "9449CA1C8DA79685D5EA2DAEAB905A02BCA7DAA4B35FE66525858DD62B80DEE0"),
        ];
        foreach ((string network, OnnxWeightEncoding encoding, bool int8, string sha256) in before)
        {
            NetworkDescription net = network switch { "LeNet" => TestNetworks.LeNet(), "ResNet" => TestNetworks.ResNet(), _ => TestNetworks.SharedConv() };
            OnnxExportOptions options = new() { WeightEncoding = encoding, QuantizeWeights = int8, LogitsOutputName = "Logits", PredictedIndexOutputName = "P" };
            OnnxExportResult off = OnnxModelWriter.Write(net, options with { ShrinkDeadChannels = false });
            // producer_version is the assembly version, 1.0.0.0 when the hashes were taken and the package version (0.1.0.0)
            // since: set back before hashing, so what stays pinned is the encoding, not the release number.
            ModelProto pinned = ModelProto.Parser.ParseFrom(off.Bytes);
            pinned.ProducerVersion = "1.0.0.0";
            Assert.AreEqual(sha256, Convert.ToHexString(SHA256.HashData(pinned.ToByteArray())), $"{network} {encoding} int8 {int8}");
            Assert.IsFalse(ModelProto.Parser.ParseFrom(off.Bytes).MetadataProps.Any(p => p.Key.Contains("shrink", StringComparison.Ordinal)));
            Assert.IsTrue(off.Size.Layers.All(l => l.OriginalShape.SequenceEqual(l.Shape) && l.OriginalKeptCount == l.KeptCount));

            // LeNet and ResNet have dead channels (the shrink changes their files); SharedConv has none, so it leaves it as it was.
            OnnxExportResult on = OnnxModelWriter.Write(net, options);
            Assert.AreEqual(network == "SharedConv", on.Bytes.AsSpan().SequenceEqual(off.Bytes), $"{network} {encoding}: file unchanged by the shrink");
            Assert.AreEqual(off.Size.BoundBytes, on.Size.BoundBytes, 1e-9, "the bound is the trained network's either way");
        }
    }

    [TestMethod]
    [DataRow("LeNet")]
    [DataRow("ResNet")]
    public void OnnxModelInspector_Inspect_ShrunkFileFiguresEqualTheExportsSizeReport(string network)
    {
        NetworkDescription net = network == "LeNet" ? PlantedLeNet() : PlantedResNet();
        foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
        foreach (bool int8 in new[] { false, true })
        {
            string context = $"{network} {encoding} int8 {int8}";
            OnnxExportResult result = OnnxModelWriter.Write(net, Shrunk with { WeightEncoding = encoding, QuantizeWeights = int8 });
            OnnxInspection read = OnnxModelInspector.Inspect(OnnxModelReader.Parse(result.Bytes, network), result.Bytes.LongLength);
            Assert.AreEqual(0, read.Warnings.Count, context + ": " + string.Join("\n", read.Warnings));

            var expected = result.Size.Layers.Select(l => (l.Name, l.OpType, string.Join('x', l.Shape), l.KeptCount, l.Encoding, l.WeightBytes, l.Quantized,
                string.Join('x', l.OriginalShape), l.OriginalKeptCount, l.BoundBytes)).ToArray();
            var actual = read.Layers.Select(l => l.Size).Select(l => (l.Name, l.OpType, string.Join('x', l.Shape), l.KeptCount, l.Encoding, l.WeightBytes,
                l.Quantized, string.Join('x', l.OriginalShape), l.OriginalKeptCount, l.BoundBytes)).ToArray();
            CollectionAssert.AreEqual(expected, actual, context);
            Assert.AreEqual((result.Size.ShippedBytes, result.Size.DenseBytes, result.Size.OtherParameterCount, result.Size.OriginalOtherParameterCount),
                (read.Size.ShippedBytes, read.Size.DenseBytes, read.Size.OtherParameterCount, read.Size.OriginalOtherParameterCount), context);
            Assert.AreEqual(result.Size.BoundBytes, read.Size.BoundBytes, 1e-9, context);

            // The metadata states the trained network (the unshrunk file's figures) and what was removed per layer.
            OnnxExportResult unshrunk = OnnxModelWriter.Write(net, Unshrunk with { WeightEncoding = encoding, QuantizeWeights = int8 });
            OnnxContract before = OnnxContractMetadata.Read(Metadata(unshrunk.Bytes));
            Assert.AreEqual((before.KeptWeights, before.PrunableWeights), (read.Contract!.KeptWeights, read.Contract.PrunableWeights), context);
            Assert.AreEqual(unshrunk.Size.OtherParameterCount, read.Size.OriginalOtherParameterCount, context);
            Assert.AreEqual(unshrunk.Size.BoundBytes, read.Size.BoundBytes, 1e-9, context);
            CollectionAssert.AreEqual(unshrunk.Size.Layers.Select(l => string.Join('x', l.Shape)).ToArray(),
                read.Layers.Select(l => string.Join('x', l.Size.OriginalShape)).ToArray(), context);
            CollectionAssert.AreEqual(
                result.Size.Layers.Where(l => l.OutputChannelsRemoved + l.InputsRemoved > 0 || l.OriginalKeptCount != l.KeptCount)
                    .Select(l => new OnnxShrunkLayer(l.Name, l.OutputChannelsRemoved, l.InputsRemoved, l.OriginalKeptCount - l.KeptCount)).ToArray(),
                read.Contract.Shrunk.ToArray(), context);
            Assert.AreEqual(OnnxContractMetadata.ShrunkFormatVersion, Metadata(result.Bytes)[OnnxContractMetadata.Prefix + "format_version"]);
            Assert.AreEqual(OnnxContractMetadata.FormatVersion, Metadata(unshrunk.Bytes)[OnnxContractMetadata.Prefix + "format_version"]);
        }
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_ShrunkFileWithoutItsShrinkKeysIsFlagged()
    {
        // Without the record of what was removed the graph cannot account for the trained figures the metadata states.
        OnnxExportResult result = OnnxModelWriter.Write(PlantedLeNet(), Shrunk);
        ModelProto model = ModelProto.Parser.ParseFrom(result.Bytes);
        StringStringEntryProto removed = model.MetadataProps.Single(p => p.Key == OnnxContractMetadata.Prefix + "shrink");
        model.MetadataProps.Remove(removed);
        OnnxInspection read = OnnxModelInspector.Inspect(model, result.Bytes.LongLength);
        Assert.IsTrue(read.Warnings.Any(w => w.Contains("kept weights of the pruned layers", StringComparison.Ordinal)), string.Join("\n", read.Warnings));

        // A record naming a layer the graph does not have is flagged as well.
        model = ModelProto.Parser.ParseFrom(result.Bytes);
        StringStringEntryProto entry = model.MetadataProps.Single(p => p.Key == OnnxContractMetadata.Prefix + "shrink");
        entry.Value += ",conv9:1/0/0";
        read = OnnxModelInspector.Inspect(model, result.Bytes.LongLength);
        Assert.IsTrue(read.Warnings.Any(w => w.Contains("'conv9' as shrunk", StringComparison.Ordinal)), string.Join("\n", read.Warnings));
    }

    [TestMethod]
    public void OnnxModelWriter_Write_TrainedDenseBytesIsTheUnshrunkDenseFile()
    {
        NetworkDescription net = PlantedLeNet();
        OnnxSizeReport shrunk = OnnxModelWriter.Write(net, Shrunk).Size;
        long unshrunkDense = OnnxModelWriter.Write(net, Shrunk with { ShrinkDeadChannels = false, WeightEncoding = OnnxWeightEncoding.Dense }).Bytes.LongLength;
        Assert.AreEqual(unshrunkDense, shrunk.TrainedDenseBytes, "what the trained network costs dense");
        Assert.IsLessThan(unshrunkDense, shrunk.DenseBytes, "the shrunk network written dense is smaller");
        OnnxSizeReport off = OnnxModelWriter.Write(net, Shrunk with { ShrinkDeadChannels = false }).Size;
        Assert.AreEqual(off.DenseBytes, off.TrainedDenseBytes, "nothing removed: the same figure");
    }

    [TestMethod]
    public void DeadChannelShrink_Apply_FeatureMapsKeepAMultipleOfTheChannelBlock()
    {
        // block.conv1 (32 output channels) with 20 filters pruned away: without the rule 12 channels would stay (plus at most
        // one representative constant); with it the feature map keeps 16, so ONNX Runtime's blocked convolutions still apply.
        NetworkDescription baseNet = TestNetworks.ResNet();
        NetworkDescription net = WithNodes(baseNet, baseNet.Nodes.Select(n =>
        {
            if (n is not Conv2dNode { Name: "block.conv1" } conv)
                return n;
            float[] weight = (float[])conv.Weight.Clone();
            Array.Clear(weight, 0, 20 * conv.InChannels * conv.KernelH * conv.KernelW);
            return conv with { Weight = weight };
        }));

        long free = OnnxModelWriter.Write(net, Shrunk).Size.Layers.Single(l => l.Name == "block.conv1").Shape[0];
        OnnxSizeReport blocked = OnnxModelWriter.Write(net, Shrunk with { ShrinkChannelBlock = DeadChannelShrink.ChannelBlock }).Size;
        long kept = blocked.Layers.Single(l => l.Name == "block.conv1").Shape[0];
        Assert.IsLessThanOrEqualTo(13L, free, "without the rule the dead filters go");
        Assert.AreEqual(16L, kept, "with it a multiple of 16 stays");
        Assert.AreEqual(16L, blocked.Layers.Single(l => l.Name == "block.conv2").Shape[1], "the reader's inputs match");
        Assert.IsTrue(new OnnxExportOptions().ShrinkChannelBlock == DeadChannelShrink.ChannelBlock, "the rule is the default");
        AssertScoresLikeUnshrunk(net, Shrunk with { ShrinkChannelBlock = DeadChannelShrink.ChannelBlock }, "ResNet, 16-channel blocks");
    }

    /// <summary>
    /// The shrunk file scores like the unshrunk one and like the naive reference of the description (both within
    /// <see cref="Tolerance"/>); returns the shrunk file's logits.
    /// </summary>
    private float[] AssertScoresLikeUnshrunk(NetworkDescription net, OnnxExportOptions options, string context)
    {
        float[] pixels = TestNetworks.Pixels(net, Batch);
        float[] unshrunk = Logits(OnnxModelWriter.Write(net, options with { ShrinkDeadChannels = false }).Bytes, net, pixels);
        float[] shrunk = Logits(OnnxModelWriter.Write(net, options).Bytes, net, pixels);
        float[] reference = ReferenceForward.Logits(net, pixels, Batch).SelectMany(r => r).ToArray();
        double difference = MaxDifference(unshrunk, shrunk);
        TestContext.WriteLine($"{context}: max |shrunk − unshrunk| {difference:E2}, |shrunk − reference| {MaxDifference(reference, shrunk):E2}, logits in [{shrunk.Min():F3}, {shrunk.Max():F3}]");
        Assert.IsTrue(difference <= Tolerance, $"{context}: shrunk vs unshrunk {difference:E3}");
        Assert.IsTrue(MaxDifference(reference, shrunk) <= Tolerance, $"{context}: shrunk vs reference {MaxDifference(reference, shrunk):E3}");
        return shrunk;
    }

    private static float[] Logits(byte[] model, NetworkDescription net, float[] pixels) => OrtRunner.Run(model, net, pixels, Batch, "Logits")["Logits"];

    private static double MaxDifference(float[] a, float[] b)
    {
        Assert.HasCount(a.Length, b);
        return a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    }

    private static void AssertShapes(OnnxSizeReport size, params (string Layer, long[] Shape)[] expected)
    {
        string Show(IEnumerable<(string Layer, long[] Shape)> layers) => string.Join("; ", layers.Select(l => $"{l.Layer} {string.Join('x', l.Shape)}"));
        Assert.AreEqual(Show(expected), Show(size.Layers.Select(l => (l.Name, l.Shape))));
    }

    private static ShrunkLayer Layer(NetworkDescription net, string name) =>
        DeadChannelShrink.Apply(NetworkLowering.Lower(net), net, channelBlock: 1).Layers.Single(l => l.Name == name);

    private static float[] Weight(IEnumerable<NetworkNode> nodes, string layer) =>
        nodes.Select(n => n switch { Conv2dNode c when c.Name == layer => c.Weight, LinearNode l when l.Name == layer => l.Weight, _ => null }).OfType<float[]>().Single();

    private static Dictionary<string, string> Metadata(byte[] model) =>
        ModelProto.Parser.ParseFrom(model).MetadataProps.ToDictionary(p => p.Key, p => p.Value);

    private static void Dead(float[] weight, float[] bias, int rowLength, int row, float biasValue)
    {
        Array.Clear(weight, row * rowLength, rowLength);
        bias[row] = biasValue;
    }

    private static NetworkDescription WithNodes(NetworkDescription net, IEnumerable<NetworkNode> nodes) => new()
    {
        InputName = net.InputName, Channels = net.Channels, Height = net.Height, Width = net.Width, ClassCount = net.ClassCount,
        PixelScale = net.PixelScale, Mean = net.Mean, Std = net.Std, Nodes = nodes.ToList(),
    };
}
