using Google.Protobuf;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

[TestClass]
public sealed class OnnxModelWriterTests
{
    private const int Batch = 3;
    private static readonly OnnxWeightEncoding[] Encodings = Enum.GetValues<OnnxWeightEncoding>();

    private static readonly OnnxExportOptions AllOutputs = new() { PredictedIndexOutputName = "PredictedIndex", LogitsOutputName = "Logits" };

    public static IEnumerable<object[]> Networks => [["LeNet"], ["ResNet"], ["ResNetAsymmetric"], ["SharedConv"]];

    private static NetworkDescription Network(string name) => name switch
    {
        "LeNet" => TestNetworks.LeNet(),
        "ResNet" => TestNetworks.ResNet(),
        "ResNetAsymmetric" => TestNetworks.ResNetAsymmetric(),
        _ => TestNetworks.SharedConv(),
    };

    private static Dictionary<string, float[]> Run(NetworkDescription net, OnnxWeightEncoding encoding, OnnxExportOptions? options = null) =>
        OrtRunner.Run(OnnxModelWriter.Write(net, (options ?? AllOutputs) with { WeightEncoding = encoding }).Bytes,
            net, TestNetworks.Pixels(net, Batch), Batch, "Score", "PredictedIndex", "Logits");

    [TestMethod]
    [DynamicData(nameof(Networks))]
    public void OnnxModelWriter_Write_DenseMatchesNaiveReference(string network)
    {
        NetworkDescription net = Network(network);
        Dictionary<string, float[]> ort = Run(net, OnnxWeightEncoding.Dense);

        float[][] logits = ReferenceForward.Logits(net, TestNetworks.Pixels(net, Batch), Batch);
        float[] expectedLogits = logits.SelectMany(r => r).ToArray();
        float[] expectedScore = ReferenceForward.Softmax(logits).SelectMany(r => r).ToArray();
        float[] expectedIndex = logits.Select(r => (float)Array.IndexOf(r, r.Max())).ToArray();

        AssertClose(expectedLogits, ort["Logits"], 1e-4, "logits");
        AssertClose(expectedScore, ort["Score"], 1e-4, "score");
        CollectionAssert.AreEqual(expectedIndex, ort["PredictedIndex"]);
        Assert.IsTrue(expectedLogits.Max() - expectedLogits.Min() > 0.1, "logits are not degenerate");
    }

    [TestMethod]
    [DynamicData(nameof(Networks))]
    public void OnnxModelWriter_Write_EveryEncodingBitIdenticalToDense(string network)
    {
        NetworkDescription net = Network(network);
        Dictionary<string, float[]> dense = Run(net, OnnxWeightEncoding.Dense);
        foreach (OnnxWeightEncoding encoding in Encodings)
        {
            Dictionary<string, float[]> encoded = Run(net, encoding);
            foreach ((string output, float[] expected) in dense)
                CollectionAssert.AreEqual(Bits(expected), Bits(encoded[output]), $"{encoding} {output}");
        }
    }

    [TestMethod]
    public void OnnxModelWriter_Write_EncodingsActuallyUsedPerLayer()
    {
        OnnxSizeReport compact = OnnxModelWriter.Write(TestNetworks.LeNet(), new()).Size;
        Assert.AreEqual(OnnxWeightEncoding.Compact, Layer(compact, "conv2").Encoding);
        Assert.AreEqual(OnnxWeightEncoding.Compact, Layer(compact, "fc1").Encoding);
        Assert.AreEqual(OnnxWeightEncoding.Dense, Layer(compact, "fc2").Encoding, "non-prunable layer stays dense");

        OnnxSizeReport sparse = OnnxModelWriter.Write(TestNetworks.ResNet(), new() { WeightEncoding = OnnxWeightEncoding.SparseInitializer }).Size;
        Assert.AreEqual(OnnxWeightEncoding.SparseInitializer, Layer(sparse, "block.conv1").Encoding);
        Assert.AreEqual(OnnxWeightEncoding.SparseInitializer, Layer(sparse, "block.down.conv").Encoding);
    }

    [TestMethod]
    public void NetworkLowering_Lower_FoldsOnlyBatchNormsWhoseConvHasNoOtherReader()
    {
        IReadOnlyList<NetworkNode> shared = NetworkLowering.Lower(TestNetworks.SharedConv());
        Assert.AreEqual(1, shared.OfType<BatchNormNode>().Count(), "conv output also feeds the Add");
        Assert.AreEqual("c", shared.OfType<Conv2dNode>().Single().Output);

        IReadOnlyList<NetworkNode> resnet = NetworkLowering.Lower(TestNetworks.ResNet());
        Assert.AreEqual("block.bn3", resnet.OfType<BatchNormNode>().Single().Name);
        Conv2dNode stem = resnet.OfType<Conv2dNode>().First();
        Assert.AreEqual("s.b", stem.Output, "folded conv writes the BN's output");
        Assert.IsNotNull(stem.Bias, "folding creates the bias");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_ZeroKeptLayerWorksInEveryEncoding()
    {
        NetworkDescription net = TestNetworks.ResNet();
        foreach (OnnxWeightEncoding encoding in Encodings)
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, new() { WeightEncoding = encoding });
            OnnxLayerSize shortcut = Layer(result.Size, "block.down.conv");
            Assert.AreEqual(0L, shortcut.KeptCount);
            Assert.AreEqual(encoding, shortcut.Encoding);
            float[] score = OrtRunner.Run(result.Bytes, net, TestNetworks.Pixels(net, Batch), Batch, "Score")["Score"];
            Assert.IsTrue(score.All(float.IsFinite), $"{encoding}: finite scores");
        }

        // Nothing kept in any pruned layer: no gap stream at all, each weight is a ConstantOfShape zero. (With the dead-channel
        // shrink such a network collapses to one channel per tensor; this is about the encodings, so every channel is written.)
        var empty = new NetworkDescription
        {
            InputName = net.InputName, Channels = net.Channels, Height = net.Height, Width = net.Width, ClassCount = net.ClassCount,
            PixelScale = net.PixelScale, Mean = net.Mean, Std = net.Std,
            Nodes = net.Nodes.Select(n => n switch
            {
                Conv2dNode { Prunable: true } c => c with { Weight = new float[c.Weight.Length] },
                LinearNode { Prunable: true } l => l with { Weight = new float[l.Weight.Length] },
                _ => n,
            }).ToList(),
        };
        OnnxExportResult zeroed = OnnxModelWriter.Write(empty, new() { ShrinkDeadChannels = false });
        GraphProto compact = Model(zeroed.Bytes).Graph;
        Assert.AreEqual("ConstantOfShape", compact.Node.Single(n => n.Output[0] == TestNetworks.WeightTensor(compact, "block.down.conv")).OpType);
        Assert.IsFalse(compact.Node.Any(n => n.OpType == "ScatterElements"));
        float[] zeroScore = OrtRunner.Run(zeroed.Bytes, empty, TestNetworks.Pixels(empty, Batch), Batch, "Score")["Score"];
        CollectionAssert.AreEqual(OrtRunner.Run(OnnxModelWriter.Write(empty, new() { WeightEncoding = OnnxWeightEncoding.Dense, ShrinkDeadChannels = false }).Bytes, empty,
            TestNetworks.Pixels(empty, Batch), Batch, "Score")["Score"], zeroScore);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_LongGapsAndAFullyKeptLayerRoundTripExactly()
    {
        // conv1: two kept weights 36,862 positions apart (one Rice code, no escape); conv2: every weight kept (stored dense);
        // conv3: a single kept weight at its very last position, right after conv2 in the shared position space.
        NetworkDescription wide = TestNetworks.Wide(0.9);
        var random = new Random(17);
        var nodes = wide.Nodes.Select(n => n switch
        {
            Conv2dNode { Name: "conv1" } c => c with { Weight = OnlyAt(c.Weight.Length, random, 0, c.Weight.Length - 2) },
            Conv2dNode { Name: "conv2" } c => c with { Weight = TestNetworks.Uniform(random, c.Weight.Length, 0.1) },
            Conv2dNode { Name: "conv3" } c => c with { Weight = OnlyAt(c.Weight.Length, random, c.Weight.Length - 1) },
            _ => n,
        }).ToList();
        var net = new NetworkDescription
        {
            InputName = wide.InputName, Channels = wide.Channels, Height = wide.Height, Width = wide.Width, ClassCount = wide.ClassCount,
            PixelScale = wide.PixelScale, Mean = wide.Mean, Std = wide.Std, Nodes = nodes,
        };

        // About the encodings of these exact weights: the dead-channel shrink would remove conv1's and conv3's empty filters.
        OnnxExportOptions unshrunk = AllOutputs with { ShrinkDeadChannels = false };
        Dictionary<string, float[]> dense = Run(net, OnnxWeightEncoding.Dense, unshrunk);
        foreach (OnnxWeightEncoding encoding in Encodings)
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, unshrunk with { WeightEncoding = encoding });
            Assert.AreEqual(OnnxWeightEncoding.Dense, Layer(result.Size, "conv2").Encoding, $"{encoding}: a fully kept layer is cheapest dense");
            Assert.AreEqual((2L, 36_864L, 1L), (Layer(result.Size, "conv1").KeptCount, Layer(result.Size, "conv2").KeptCount, Layer(result.Size, "conv3").KeptCount));
            Dictionary<string, float[]> encoded = Run(net, encoding, unshrunk);
            foreach ((string output, float[] expected) in dense)
                CollectionAssert.AreEqual(Bits(expected), Bits(encoded[output]), $"{encoding} {output}");
            var folder = new OnnxConstantFolder(Model(result.Bytes).Graph, OnnxModelWriter.OpsetVersion);
            foreach (string layer in new[] { "conv1", "conv3" })
                CollectionAssert.AreEqual(Bits(nodes.OfType<Conv2dNode>().Single(c => c.Name == layer).Weight),
                    Bits(folder.Evaluate(TestNetworks.WeightTensor(Model(result.Bytes).Graph, layer)).Floats!), $"{encoding} {layer} decoded");
        }
    }

    private static float[] OnlyAt(int length, Random random, params int[] positions)
    {
        var weight = new float[length];
        foreach (int p in positions)
            weight[p] = (float)(random.NextDouble() + 0.5);
        return weight;
    }

    [TestMethod]
    public void OnnxModelWriter_Write_CompactDecodeIsConstantFoldedByOrt()
    {
        // After ONNX Runtime's load-time optimisation every encoding (float and int8) is the dense graph: the decode chain is
        // folded into constant weights, so scoring runs exactly the dense operators.
        foreach (NetworkDescription net in new[] { TestNetworks.LeNet(), TestNetworks.ResNet() })
        {
            List<string> dense = OrtOptimizedGraph.OpTypes(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes, GraphOptimizationLevel.ORT_ENABLE_BASIC);
            foreach (OnnxWeightEncoding encoding in Enum.GetValues<OnnxWeightEncoding>())
            foreach (bool quantize in new[] { false, true })
            {
                byte[] model = OnnxModelWriter.Write(net, new() { WeightEncoding = encoding, QuantizeWeights = quantize }).Bytes;
                List<string> ops = OrtOptimizedGraph.OpTypes(model, GraphOptimizationLevel.ORT_ENABLE_BASIC);
                CollectionAssert.AreEquivalent(dense, ops, $"{encoding}, int8 {quantize}: ops after ORT optimisation: {string.Join(", ", ops)}; dense: {string.Join(", ", dense)}");
            }
        }
    }

    [TestMethod]
    [DataRow(0.90, 6)]
    [DataRow(0.98, 20)]
    public void OnnxModelWriter_Write_CompactIsSmallerThanDenseByFactor(double sparsity, int factor)
    {
        OnnxExportResult result = OnnxModelWriter.Write(TestNetworks.Wide(sparsity), new());
        OnnxSizeReport size = result.Size;
        Console.WriteLine($"sparsity {sparsity}: dense {size.DenseBytes} B, compact {size.ShippedBytes} B, bound {size.BoundBytes:F0} B, " +
                          $"ratio {size.CompressionRatio:F1}, shipped/bound {size.ShippedBytes / size.BoundBytes:F3}");
        foreach (OnnxLayerSize layer in size.Layers)
            Console.WriteLine($"  {layer.Name} {layer.OpType} [{string.Join('x', layer.Shape)}] kept {layer.KeptCount} {layer.Encoding} {layer.WeightBytes} B (bound {layer.BoundBytes:F0})");

        Assert.AreEqual(result.Bytes.LongLength, size.ShippedBytes);
        Assert.AreEqual(OnnxModelWriter.Write(TestNetworks.Wide(sparsity), new() { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes.LongLength, size.DenseBytes);
        Assert.IsTrue(size.ShippedBytes * factor <= size.DenseBytes, $"compact {size.ShippedBytes} B vs dense {size.DenseBytes} B");
        Assert.IsTrue(size.BoundBytes < size.ShippedBytes, "the bound is a lower bound");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_CompactLargeConvNearInformationBound()
    {
        // One 256→256 3×3 conv at 98% sparsity (reference numbers: dense 2,359,435 B, int32 sparse 94,531 B, bound 57,611 B).
        var random = new Random(11);
        var net = new NetworkDescription
        {
            InputName = "x", Channels = 256, Height = 3, Width = 3, ClassCount = 256,
            Mean = new float[256], Std = Enumerable.Repeat(1f, 256).ToArray(),
            Nodes =
            [
                new Conv2dNode("conv", NetworkDescription.NormalizedTensor, "c", 256, 256, 3, 3, 1, 1, 0, 0,
                    TestNetworks.Sparse(random, 256 * 256 * 9, 0.98), null, Prunable: true),
                new FlattenNode("flatten", "c", NetworkDescription.LogitsTensor),
            ],
        };

        OnnxLayerSize compact = Layer(OnnxModelWriter.Write(net, new()).Size, "conv");
        OnnxLayerSize sparse = Layer(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.SparseInitializer }).Size, "conv");
        OnnxLayerSize dense = Layer(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Dense }).Size, "conv");
        Console.WriteLine($"dense {dense.WeightBytes} B, sparse_initializer {sparse.WeightBytes} B, compact {compact.WeightBytes} B, bound {compact.BoundBytes:F0} B");

        Assert.AreEqual(OnnxWeightEncoding.Compact, compact.Encoding);
        Assert.IsTrue(compact.WeightBytes < 1.05 * compact.BoundBytes, $"compact {compact.WeightBytes} B vs bound {compact.BoundBytes:F0} B");
        Assert.IsTrue(compact.WeightBytes < sparse.WeightBytes);
    }

    [TestMethod]
    public void OnnxSizeReport_BoundBytes_CountsEntropyKeptValuesAndOtherParameters()
    {
        // The bound is of the network as trained: the figures before the dead-channel shrink (which removes some of conv2's
        // empty filters here), the same with the shrink on or off.
        OnnxSizeReport size = OnnxModelWriter.Write(TestNetworks.LeNet(), new() { ShrinkChannelBlock = 1 }).Size;
        OnnxSizeReport unshrunk = OnnxModelWriter.Write(TestNetworks.LeNet(), new() { ShrinkDeadChannels = false }).Size;
        Assert.IsLessThan(1152L, Layer(size, "conv2").ParameterCount, "the shrink removed filters");
        Assert.AreEqual(unshrunk.BoundBytes, size.BoundBytes, 1e-9);
        CollectionAssert.AreEqual(unshrunk.Layers.Select(l => l.BoundBytes).ToArray(), size.Layers.Select(l => l.BoundBytes).ToArray());
        OnnxLayerSize conv2 = Layer(size, "conv2");
        CollectionAssert.AreEqual(new long[] { 16, 8, 3, 3 }, conv2.OriginalShape);
        Assert.AreEqual(Layer(unshrunk, "conv2").KeptCount, conv2.OriginalKeptCount);
        double p = (double)conv2.OriginalKeptCount / 1152;
        double expectedConv2 = 1152 * (-p * Math.Log2(p) - (1 - p) * Math.Log2(1 - p)) / 8 + 4.0 * conv2.OriginalKeptCount;
        Assert.AreEqual(expectedConv2, conv2.BoundBytes, 1e-9);
        Assert.AreEqual(4.0 * 640, Layer(size, "fc2").BoundBytes);
        // Biases 8 + 16 + 64 + 10, normalisation scale 1 + mean 3 + std 3.
        Assert.AreEqual(98L + 7, unshrunk.OtherParameterCount);
        Assert.AreEqual(98L + 7, size.OriginalOtherParameterCount);
        // The file's bound is the issue's: one mask entropy over all pruned layers together, N·H(nnz/N)/8 + 4·nnz, plus 4 B per
        // weight of the unpruned fc2 and per other parameter.
        long n = 600 + 1152 + 16384, kept = size.Layers.Where(l => l.Prunable).Sum(l => l.OriginalKeptCount);
        double q = (double)kept / n;
        double expected = n * (-q * Math.Log2(q) - (1 - q) * Math.Log2(1 - q)) / 8 + 4.0 * kept + 4.0 * 640 + 4.0 * 105;
        Assert.AreEqual(expected, size.BoundBytes, 1e-6);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_ModelHeaderInputsOutputsAndNames()
    {
        ModelProto model = Model(OnnxModelWriter.Write(TestNetworks.ResNet(), AllOutputs).Bytes);
        Assert.AreEqual(8L, model.IrVersion);
        Assert.AreEqual(17L, model.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.AreEqual("HyperSparse.MLNet", model.ProducerName);

        ValueInfoProto input = model.Graph.Input.Single();
        Assert.AreEqual("pixels", input.Name);
        CollectionAssert.AreEqual(new[] { "batch", "", "", "" }, input.Type.TensorType.Shape.Dim.Select(d => d.DimParam).ToArray());
        CollectionAssert.AreEqual(new long[] { 0, 3, 12, 12 }, input.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray());
        CollectionAssert.AreEqual(new[] { "Score", "PredictedIndex", "Logits" }, model.Graph.Output.Select(o => o.Name).ToArray());
        Assert.AreEqual((int)TensorProto.Types.DataType.Int64, model.Graph.Output[1].Type.TensorType.ElemType);

        // Four BNs folded into their convs, the one after the Add kept; readable initializer names.
        Assert.AreEqual(1, model.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.AreEqual("block.bn3", model.Graph.Node.Single(n => n.OpType == "BatchNormalization").Name);
        string[] initializers = model.Graph.Initializer.Select(t => t.Name).ToArray();
        CollectionAssert.IsSubsetOf(new[] { "block.bn3.scale", "input.mean", "input.std" }, initializers);
        // Layer names live on the Conv/Gemm nodes; the tensors between them get short generated names (bytes count).
        CollectionAssert.AreEqual(TestNetworks.ResNet().Nodes.Where(n => n is Conv2dNode or LinearNode).Select(n => n.Name).ToArray(),
            model.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm").Select(n => n.Name).ToArray());
        Assert.IsTrue(model.Graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Where(t => t is not ("pixels" or "Score" or "PredictedIndex" or "Logits") && !t.StartsWith("input.") && !t.StartsWith("block.bn3."))
            .All(t => t.Length <= 4), "short internal names");
        Assert.IsFalse(model.Graph.Node.Any(n => n.OpType == "Mul" && n.Input.Contains("pixels")), "pixel scale 1 needs no Mul");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_SparseInitializerIsSpecShapedConstant()
    {
        NetworkDescription net = TestNetworks.ResNet();
        // Every channel written (no dead-channel shrink), so the stored shapes are the description's.
        GraphProto graph = Model(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.SparseInitializer, ShrinkDeadChannels = false }).Bytes).Graph;
        Assert.IsEmpty(graph.SparseInitializer, "GraphProto.sparse_initializer fails onnx.checker's full check");

        SparseTensorProto conv1 = SparseConstant(graph, TestNetworks.WeightTensor(graph, "block.conv1"));
        CollectionAssert.AreEqual(new long[] { 32, 16, 3, 3 }, conv1.Dims.ToArray());
        Assert.AreEqual((int)TensorProto.Types.DataType.Float, conv1.Values.DataType);
        Assert.AreEqual((int)TensorProto.Types.DataType.Int64, conv1.Indices.DataType);
        Assert.AreEqual(1, conv1.Indices.Dims.Count, "linear indices");
        Assert.AreEqual(1, conv1.Values.Dims.Count);
        Assert.AreEqual(conv1.Values.Dims[0], conv1.Indices.Dims[0]);

        // The stored (index, value) pairs are exactly the non-zeros of the folded weight the dense file holds, ascending.
        float[] dense = DenseWeight(net, "block.conv1");
        long[] indices = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(conv1.Indices.RawData.Span).ToArray();
        float[] values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(conv1.Values.RawData.Span).ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, dense.Length).Where(i => dense[i] != 0f).Select(i => (long)i).ToArray(), indices);
        CollectionAssert.AreEqual(indices.Select(i => dense[i]).ToArray(), values);

        SparseTensorProto empty = SparseConstant(graph, TestNetworks.WeightTensor(graph, "block.down.conv"));
        Assert.AreEqual(0L, empty.Values.Dims[0]);
        Assert.AreEqual(0L, empty.Indices.Dims[0]);
        CollectionAssert.AreEqual(new long[] { 32, 16, 1, 1 }, empty.Dims.ToArray());
    }

    [TestMethod]
    public void OnnxSizeReport_WeightBytes_AddUpToTheWrittenWeightTensorsAndNodes()
    {
        NetworkDescription net = TestNetworks.ResNet();
        foreach (OnnxWeightEncoding encoding in Encodings)
        {
            OnnxExportResult result = OnnxModelWriter.Write(net, new() { WeightEncoding = encoding });
            GraphProto graph = Model(result.Bytes).Graph;
            Assert.AreEqual(result.Bytes.LongLength, result.Size.ShippedBytes, $"{encoding}: shipped bytes");

            // Dense and sparse weights are one graph entry each: the layer's bytes are exactly that entry's.
            if (encoding != OnnxWeightEncoding.Compact)
            {
                foreach (OnnxLayerSize layer in result.Size.Layers)
                {
                    string name = TestNetworks.WeightTensor(graph, layer.Name);
                    IMessage entry = layer.Encoding == OnnxWeightEncoding.Dense
                        ? graph.Initializer.Single(t => t.Name == name)
                        : graph.Node.Single(n => n.OpType == "Constant" && n.Output[0] == name);
                    Assert.AreEqual(1 + CodedOutputStream.ComputeMessageSize(entry), layer.WeightBytes, $"{encoding} {layer.Name}");
                }
            }

            // Every encoding: the layers' bytes add up to every graph entry a weight is rebuilt from, each counted once.
            var folder = new OnnxConstantFolder(graph, OnnxModelWriter.OpsetVersion);
            var entries = new HashSet<IMessage>(result.Size.Layers.SelectMany(l => folder.Sources(TestNetworks.WeightTensor(graph, l.Name))), ReferenceEqualityComparer.Instance);
            Assert.AreEqual(entries.Sum(e => 1L + CodedOutputStream.ComputeMessageSize(e)), result.Size.Layers.Sum(l => l.WeightBytes), $"{encoding}: sum of layer bytes");
        }
    }

    [TestMethod]
    public void OnnxModelWriter_Write_MetadataRoundTripsThroughOrt()
    {
        NetworkDescription net = TestNetworks.LeNet();
        OnnxExportResult result = OnnxModelWriter.Write(net, new() { PredictedIndexOutputName = "Label" });
        using var session = new InferenceSession(result.Bytes);
        OnnxContract contract = OnnxContractMetadata.Read(session.ModelMetadata.CustomMetadataMap);

        Assert.AreEqual("image", contract.InputName);
        Assert.AreEqual((3, 20, 20, 10), (contract.Channels, contract.Height, contract.Width, contract.ClassCount));
        Assert.AreEqual(net.PixelScale, contract.PixelScale);
        CollectionAssert.AreEqual(net.Mean, contract.Mean);
        CollectionAssert.AreEqual(net.Std, contract.Std);
        Assert.AreEqual(OnnxWeightEncoding.Compact, contract.WeightEncoding);
        Assert.AreEqual(("Score", "Label", (string?)null), (contract.ScoreOutputName, contract.PredictedIndexOutputName, contract.LogitsOutputName));
        Assert.IsFalse(contract.Quantized);
        // Layers not pruned are named; kept/total is over the pruned ones (per-layer figures are read from the graph).
        CollectionAssert.AreEqual(net.Nodes.Where(n => n is Conv2dNode { Prunable: false } or LinearNode { Prunable: false }).Select(n => n.Name).ToArray(),
            contract.DenseLayers.ToArray());
        var pruned = net.Nodes.Select(n => n switch { Conv2dNode { Prunable: true } c => c.Weight, LinearNode { Prunable: true } l => l.Weight, _ => null })
            .OfType<float[]>().ToList();
        Assert.AreEqual((pruned.Sum(w => (long)w.Count(v => v != 0)), pruned.Sum(w => (long)w.Length)), (contract.KeptWeights, contract.PrunableWeights));
    }

    [TestMethod]
    public void OnnxModelWriter_Write_IsDeterministic()
    {
        byte[] first = OnnxModelWriter.Write(TestNetworks.ResNet(), new()).Bytes;
        byte[] second = OnnxModelWriter.Write(TestNetworks.ResNet(), new()).Bytes;
        CollectionAssert.AreEqual(first, second);
    }

    [TestMethod]
    public void OnnxModelWriter_Write_FoldedZerosStayPositiveZeros()
    {
        // block.bn1 has a negative γ on one channel: folded zeros must not turn into −0 (the sparse encodings rebuild +0).
        // Every channel written (no dead-channel shrink), so the zeros can be counted against the description's.
        OnnxExportOptions options = new() { WeightEncoding = OnnxWeightEncoding.Dense, ShrinkDeadChannels = false };
        TensorProto weight = Model(OnnxModelWriter.Write(TestNetworks.ResNet(), options).Bytes)
            .Graph.Initializer.Single(t => t.Name == TestNetworks.WeightTensor(Model(OnnxModelWriter.Write(TestNetworks.ResNet(), options).Bytes).Graph, "block.conv1"));
        float[] values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(weight.RawData.Span).ToArray();
        Assert.IsFalse(values.Any(v => v == 0f && float.IsNegative(v)));
        Assert.AreEqual(TestNetworks.ResNet().Nodes.OfType<Conv2dNode>().Single(c => c.Name == "block.conv1").Weight.Count(w => w == 0f),
            values.Count(v => v == 0f));
    }

    [TestMethod]
    public void OnnxModelWriter_Write_BadNodeNamesNodeExpectedAndFound()
    {
        NetworkDescription net = TestNetworks.LeNet();
        var nodes = net.Nodes.ToList();
        nodes[3] = ((Conv2dNode)nodes[3]) with { InChannels = 4, Weight = new float[16 * 4 * 9] };
        var bad = new NetworkDescription
        {
            InputName = net.InputName, Channels = 3, Height = 20, Width = 20, ClassCount = 10,
            Mean = net.Mean, Std = net.Std, Nodes = nodes,
        };

        var error = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(bad, new()));
        StringAssert.Contains(error.Message, "conv2");
        StringAssert.Contains(error.Message, "[4, H, W]");
        StringAssert.Contains(error.Message, "[8, 8, 8]");
    }

    /// <summary>The per-side pads reach the file in ONNX's [top, left, bottom, right] order (the reference check is above).</summary>
    [TestMethod]
    public void OnnxModelWriter_Write_AsymmetricPadsAreWrittenPerSide()
    {
        var model = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(TestNetworks.ResNetAsymmetric(), new() { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes);
        long[] Pads(NodeProto node) => node.Attribute.Single(a => a.Name == "pads").Ints.ToArray();
        CollectionAssert.AreEqual(new long[] { 1, 1, 0, 0 }, Pads(model.Graph.Node.Single(n => n.Name == "stem.conv")));
        CollectionAssert.AreEqual(new long[] { 1, 0, 1, 0 }, Pads(model.Graph.Node.Single(n => n.OpType == "MaxPool")));
        CollectionAssert.AreEqual(new long[] { 1, 1, 1, 1 }, Pads(model.Graph.Node.Single(n => n.Name == "block.conv1")), "symmetric pads as before");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_BadAsymmetricPadsNameNodeExpectedAndFound()
    {
        NetworkDescription Replace(Func<NetworkNode, NetworkNode> change)
        {
            NetworkDescription net = TestNetworks.ResNet();
            return new NetworkDescription
            {
                InputName = net.InputName, Channels = net.Channels, Height = net.Height, Width = net.Width, ClassCount = net.ClassCount,
                Mean = net.Mean, Std = net.Std, Nodes = net.Nodes.Select(change).ToList(),
            };
        }

        // Symmetric and per-side padding together would be ambiguous.
        var both = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(Replace(n =>
            n is Conv2dNode { Name: "stem.conv" } c ? c with { AsymmetricPads = new ImagePadding(1, 1, 0, 0) } : n), new()));
        StringAssert.Contains(both.Message, "stem.conv");
        StringAssert.Contains(both.Message, "pads [1, 1, 0, 0], PadH 1, PadW 1");

        var negative = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(Replace(n =>
            n is Conv2dNode { Name: "stem.conv" } c ? c with { PadH = 0, PadW = 0, AsymmetricPads = new ImagePadding(1, -1, 1, 1) } : n), new()));
        StringAssert.Contains(negative.Message, "non-negative per-side pads");

        // More than half the 3×3 kernel on a side would let a window hold only padding.
        var wide = Assert.ThrowsExactly<ArgumentException>(() => OnnxModelWriter.Write(Replace(n =>
            n is MaxPoolNode p ? p with { Pad = 0, AsymmetricPads = new ImagePadding(2, 0, 0, 0) } : n), new()));
        StringAssert.Contains(wide.Message, "stem.pool");
        StringAssert.Contains(wide.Message, "pads [2, 0, 0, 0], Pad 0");
    }

    [TestMethod]
    public void OnnxModelWriter_Write_ClashingOutputNamesRejected()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
            OnnxModelWriter.Write(TestNetworks.LeNet(), new() { PredictedIndexOutputName = "Score" }));
        StringAssert.Contains(error.Message, "distinct");

        // Generated tensor names avoid the output names; the normalisation constants keep fixed names.
        var clash = Assert.ThrowsExactly<ArgumentException>(() =>
            OnnxModelWriter.Write(TestNetworks.LeNet(), new() { LogitsOutputName = "input.mean" }));
        StringAssert.Contains(clash.Message, "'input.mean'");
        foreach (string name in new[] { "h1r", "w0", "x3", "b1" })
            OnnxModelWriter.Write(TestNetworks.LeNet(), new() { LogitsOutputName = name, PredictedIndexOutputName = name + "i" });
    }

    [TestMethod]
    public void OnnxModelWriter_WriteFile_MissingDirectoryThrowsAndLeavesNothing()
    {
        string root = Path.Combine(Path.GetTempPath(), $"hs-onnx-{Guid.NewGuid():N}");
        string path = Path.Combine(root, "missing", "model.onnx");
        try
        {
            var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => OnnxModelWriter.WriteFile(TestNetworks.LeNet(), new(), path));
            StringAssert.Contains(error.Message, Path.Combine(root, "missing"));
            Assert.IsFalse(Directory.Exists(root), "nothing created");
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void OnnxModelWriter_WriteFile_ReplacesFileAndLeavesNoTemporary()
    {
        string directory = Directory.CreateTempSubdirectory("hs-onnx-").FullName;
        try
        {
            string path = Path.Combine(directory, "model.onnx");
            File.WriteAllText(path, "old");
            OnnxExportResult result = OnnxModelWriter.WriteFile(TestNetworks.LeNet(), new(), path);
            CollectionAssert.AreEqual(result.Bytes, File.ReadAllBytes(path));
            CollectionAssert.AreEqual(new[] { "model.onnx" }, Directory.GetFiles(directory).Select(Path.GetFileName).ToArray());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void OnnxModelWriter_WriteStream_WritesSameBytes()
    {
        using var stream = new MemoryStream();
        OnnxExportResult result = OnnxModelWriter.Write(TestNetworks.LeNet(), new(), stream);
        CollectionAssert.AreEqual(result.Bytes, stream.ToArray());
    }

    private static ModelProto Model(byte[] bytes) => ModelProto.Parser.ParseFrom(bytes);

    private static SparseTensorProto SparseConstant(GraphProto graph, string output)
    {
        NodeProto node = graph.Node.Single(n => n.Output.Contains(output));
        Assert.AreEqual("Constant", node.OpType, output);
        Assert.HasCount(0, node.Input);
        AttributeProto attribute = node.Attribute.Single();
        Assert.AreEqual("sparse_value", attribute.Name);
        Assert.AreEqual(AttributeProto.Types.AttributeType.SparseTensor, attribute.Type);
        return attribute.SparseTensor;
    }

    private static float[] DenseWeight(NetworkDescription net, string layer)
    {
        GraphProto graph = Model(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Dense, ShrinkDeadChannels = false }).Bytes).Graph;
        TensorProto weight = graph.Initializer.Single(t => t.Name == TestNetworks.WeightTensor(graph, layer));
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(weight.RawData.Span).ToArray();
    }

    private static OnnxLayerSize Layer(OnnxSizeReport size, string name) => size.Layers.Single(l => l.Name == name);

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.HasCount(expected.Length, actual);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance, $"{what}[{i}]");
    }
}
