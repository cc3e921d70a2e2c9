using Google.Protobuf;
using Microsoft.ML.HyperSparse.Onnx;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// The inspector reads back, from the graph alone, the figures the writer reported while writing: per layer shape, kept
/// count, encoding and bytes, and the totals (dense size, other parameters, bound). Hand-made networks cover a layer kept
/// dense, a layer with no kept weight, a gap over 255 and an unfolded batch norm.
/// </summary>
[TestClass]
public sealed class OnnxModelInspectorTests
{
    private static readonly OnnxExportOptions AllOutputs = new() { PredictedIndexOutputName = "PredictedIndex", LogitsOutputName = "Logits" };

    public static IEnumerable<object[]> Cases =>
        from network in new[] { "LeNet", "ResNet", "SharedConv", "Wide" }
        from encoding in Enum.GetValues<OnnxWeightEncoding>()
        select new object[] { network, encoding.ToString() };

    private static NetworkDescription Network(string name) => name switch
    {
        "LeNet" => TestNetworks.LeNet(),
        "ResNet" => TestNetworks.ResNet(),
        "SharedConv" => TestNetworks.SharedConv(),
        _ => TestNetworks.Wide(0.98),
    };

    private static OnnxInspection Inspect(byte[] bytes) => OnnxModelInspector.Inspect(OnnxModelReader.Parse(bytes, "test"), bytes.LongLength);

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void OnnxModelInspector_Inspect_FiguresEqualTheWritersSizeReport(string network, string encodingName)
    {
        var encoding = Enum.Parse<OnnxWeightEncoding>(encodingName);
        OnnxExportResult written = OnnxModelWriter.Write(Network(network), AllOutputs with { WeightEncoding = encoding });
        OnnxInspection read = Inspect(written.Bytes);

        Assert.AreEqual(0, read.Warnings.Count, string.Join("\n", read.Warnings));
        Assert.AreEqual(written.Size.Layers.Count, read.Layers.Count, "layers");
        for (int i = 0; i < read.Layers.Count; i++)
        {
            OnnxLayerSize expected = written.Size.Layers[i], actual = read.Layers[i].Size;
            string layer = $"{network} {encoding} layer {expected.Name}";
            Assert.AreEqual(expected.Name, actual.Name, layer);
            Assert.AreEqual(TestNetworks.WeightTensor(ModelProto.Parser.ParseFrom(written.Bytes).Graph, expected.Name), read.Layers[i].WeightName, layer);
            Assert.AreEqual(expected.OpType, actual.OpType, layer);
            CollectionAssert.AreEqual(expected.Shape, actual.Shape, layer);
            Assert.AreEqual(expected.Prunable, actual.Prunable, layer + " prunable");
            Assert.AreEqual(expected.KeptCount, actual.KeptCount, layer + " kept");
            Assert.AreEqual(expected.Encoding, actual.Encoding, layer + " encoding");
            Assert.AreEqual(expected.WeightBytes, actual.WeightBytes, layer + " bytes");
            Assert.AreEqual(expected.BoundBytes, actual.BoundBytes, layer + " bound");
        }

        Assert.AreEqual(written.Size.ShippedBytes, read.Size.ShippedBytes, "shipped bytes");
        Assert.AreEqual(written.Size.DenseBytes, read.Size.DenseBytes, "dense bytes");
        Assert.AreEqual(written.Size.OtherParameterCount, read.Size.OtherParameterCount, "other parameters");
        Assert.AreEqual(written.Size.BoundBytes, read.Size.BoundBytes, "bound");
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_CoversTheEdgeCasesItClaimsTo()
    {
        // The claims of the class summary, so that a change to TestNetworks cannot silently drop a case.
        OnnxInspection lenet = Inspect(OnnxModelWriter.Write(TestNetworks.LeNet(), new()).Bytes);
        Assert.IsFalse(Layer(lenet, "fc2").Size.Prunable, "a layer kept dense");
        OnnxInspection resnet = Inspect(OnnxModelWriter.Write(TestNetworks.ResNet(), new()).Bytes);
        Assert.AreEqual(0, Layer(resnet, "block.down.conv").Size.KeptCount, "a layer with no kept weight");
        Assert.AreEqual(OnnxWeightEncoding.Compact, Layer(lenet, "fc1").Size.Encoding, "fc1 (a zero run of 1000) is gap-coded");
        Assert.IsTrue(resnet.Size.OtherParameterCount > 4 * 32, "the unfoldable batch norm's parameters count as other parameters");
    }

    [TestMethod]
    public void OnnxConstantFolder_Evaluate_CompactAndSparseWeightsBitIdenticalToDense()
    {
        NetworkDescription net = TestNetworks.LeNet();
        ModelProto dense = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(net, new() { WeightEncoding = OnnxWeightEncoding.Dense }).Bytes);
        foreach (OnnxWeightEncoding encoding in new[] { OnnxWeightEncoding.Compact, OnnxWeightEncoding.SparseInitializer })
        {
            ModelProto encoded = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(net, new() { WeightEncoding = encoding }).Bytes);
            var folder = new OnnxConstantFolder(encoded.Graph, OnnxModelWriter.OpsetVersion);
            foreach (NodeProto layerNode in dense.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm"))
            {
                TensorProto weight = dense.Graph.Initializer.Single(t => t.Name == layerNode.Input[1]);
                float[] expected = ConstantTensor.Read(weight).Floats!;
                ConstantTensor decoded = folder.Evaluate(TestNetworks.WeightTensor(encoded.Graph, layerNode.Name));
                CollectionAssert.AreEqual(weight.Dims.ToArray(), decoded.Dims, $"{encoding} {weight.Name} dims");
                CollectionAssert.AreEqual(expected.Select(BitConverter.SingleToInt32Bits).ToArray(),
                    decoded.Floats!.Select(BitConverter.SingleToInt32Bits).ToArray(), $"{encoding} {weight.Name} bits");
            }
        }
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_WithoutMetadata_ReportsTheGraphAndSaysSo()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(TestNetworks.LeNet(), AllOutputs).Bytes);
        model.MetadataProps.Clear();
        byte[] bytes = model.ToByteArray();
        OnnxInspection read = Inspect(bytes);

        Assert.IsNull(read.Contract);
        Assert.AreEqual(4, read.Layers.Count);
        Assert.IsTrue(read.Layers.All(l => l.Size.Prunable), "without metadata every layer counts as prunable");
        Assert.AreEqual(OnnxWeightEncoding.Compact, Layer(read, "conv2").Size.Encoding);
        StringAssert.Contains(read.Warnings.Single(), "no 'hypersparse.*' metadata");
        CollectionAssert.AreEqual(new[] { "image" }, read.Inputs.Select(i => i.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "batch", "3", "20", "20" }, read.Inputs[0].Dims.ToArray());

        // Another producer's file: no warning about missing metadata, figures still read.
        model.ProducerName = "some-other-exporter";
        OnnxInspection foreign = Inspect(model.ToByteArray());
        Assert.AreEqual(0, foreign.Warnings.Count, string.Join("\n", foreign.Warnings));
        Assert.AreEqual(Layer(read, "fc1").Size.KeptCount, Layer(foreign, "fc1").Size.KeptCount);
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_MetadataThatDisagreesWithTheGraph_IsNamedInWarnings()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(TestNetworks.LeNet(), AllOutputs).Bytes);
        StringStringEntryProto kept = model.MetadataProps.Single(p => p.Key == "hypersparse.kept");
        kept.Value = "1" + kept.Value;
        model.MetadataProps.Single(p => p.Key == "hypersparse.pixel_scale").Value = "0.5";
        model.MetadataProps.Single(p => p.Key == "hypersparse.input_shape").Value = "3,21,20";
        model.MetadataProps.Single(p => p.Key == "hypersparse.dense_layers").Value += ",ghost";
        model.MetadataProps.Single(p => p.Key == "hypersparse.weight_encoding").Value += "+int8";

        OnnxInspection read = Inspect(model.ToByteArray());
        string all = string.Join("\n", read.Warnings);
        StringAssert.Contains(all, "the kept weights of the pruned layers: metadata says 1");
        StringAssert.Contains(all, "layer 'conv2' storage: metadata says int8, the graph has float");
        StringAssert.Contains(all, "the pixel scale: metadata says [0.5]");
        StringAssert.Contains(all, "input 'image' shape: metadata says [batch,3,21,20], the graph has [batch,3,20,20]");
        StringAssert.Contains(all, "layer 'ghost' as kept dense, which the graph does not have");
        Assert.AreEqual(8, read.Warnings.Count, all);
        Assert.AreEqual(Layer(Inspect(OnnxModelWriter.Write(TestNetworks.LeNet(), AllOutputs).Bytes), "conv2").Size.KeptCount,
            Layer(read, "conv2").Size.KeptCount, "kept comes from the graph, not the metadata");
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_UnreadableMetadata_FallsBackToTheGraph()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(TestNetworks.LeNet(), AllOutputs).Bytes);
        model.MetadataProps.Single(p => p.Key == "hypersparse.class_count").Value = "ten";
        OnnxInspection read = Inspect(model.ToByteArray());
        Assert.IsNull(read.Contract);
        Assert.AreEqual(4, read.Layers.Count);
        StringAssert.Contains(read.Warnings.Single(), "metadata cannot be read");
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_WeightBuiltByAnUnsupportedOp_LeavesTheLayerOutWithAReason()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModelWriter.Write(TestNetworks.LeNet(), AllOutputs).Bytes);
        string conv2 = TestNetworks.WeightTensor(model.Graph, "conv2");
        model.Graph.Node.Single(n => n.Output[0] == conv2).OpType = "Erf";
        OnnxInspection read = Inspect(model.ToByteArray());
        CollectionAssert.AreEqual(new[] { "conv1", "fc1", "fc2" }, read.Layers.Select(l => l.NodeName).ToArray());
        string all = string.Join("\n", read.Warnings);
        StringAssert.Contains(all, $"Layer 'conv2' (Conv) left out: its weight '{conv2}' cannot be decoded");
        StringAssert.Contains(all, "operator Erf");
    }

    [TestMethod]
    public void OnnxModelInspector_Inspect_OtherDecodeChains_SharedStreamSplitAndInt8Dequantize()
    {
        // Two Gemm weights rebuilt the way a future encoding might: one uint8 gap stream and one value vector shared by both
        // layers (CumSum, ScatterElements into 10 + 6 slots, Split), the second dequantised per output channel from int8.
        var graph = new GraphProto { Name = "chains" };
        graph.Input.Add(OnnxProtos.BatchedTensor("x", DataType.Float, 5));
        graph.Output.Add(OnnxProtos.BatchedTensor("y", DataType.Float, 3));
        graph.Initializer.Add(OnnxProtos.UInt8("gaps", [1, 3, 5, 2], 4));        // positions 1, 4, 9, 11
        graph.Initializer.Add(OnnxProtos.Float("kept", [0.5f, -1f, 2f, 0.25f], 4));
        graph.Initializer.Add(OnnxProtos.Int64("numel", [16L], 1));
        graph.Initializer.Add(OnnxProtos.Int64("axis0", [0L]));
        graph.Initializer.Add(OnnxProtos.Int64("sizes", [10L, 6L], 2));
        graph.Initializer.Add(OnnxProtos.Int64("shape1", [2L, 5L], 2));
        graph.Initializer.Add(OnnxProtos.Float("b1", [0f, 0f], 2));
        graph.Node.Add(OnnxProtos.Node("ConstantOfShape", null, ["numel"], "zeros"));
        graph.Node.Add(OnnxProtos.Node("Cast", null, ["gaps"], "g64", OnnxProtos.Attr("to", (long)DataType.Int64)));
        graph.Node.Add(OnnxProtos.Node("CumSum", null, ["g64", "axis0"], "pos"));
        graph.Node.Add(OnnxProtos.Node("ScatterElements", null, ["zeros", "pos", "kept"], "flat"));
        var split = OnnxProtos.Node("Split", null, ["flat", "sizes"], "flat1", OnnxProtos.Attr("axis", 0L));
        split.Output.Add("rest");
        graph.Node.Add(split);
        graph.Node.Add(OnnxProtos.Node("Reshape", null, ["flat1", "shape1"], "w1"));
        graph.Node.Add(OnnxProtos.Node("Gemm", "fc1", ["x", "w1", "b1"], "h", OnnxProtos.Attr("transB", 1L)));

        var q = new TensorProto { Name = "q", DataType = (int)DataType.Int8, RawData = ByteString.CopyFrom([0, 5, 0, 0xFB, 0, 0]) };
        q.Dims.Add([3L, 2L]);
        graph.Initializer.Add(q);
        graph.Initializer.Add(OnnxProtos.Float("scale", [0.1f, 0.2f, 0.3f], 3));
        graph.Node.Add(OnnxProtos.Node("DequantizeLinear", null, ["q", "scale"], "w2", OnnxProtos.Attr("axis", 0L)));
        graph.Node.Add(OnnxProtos.Node("Gemm", "fc2", ["h", "w2"], "y", OnnxProtos.Attr("transB", 1L)));

        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        byte[] bytes = model.ToByteArray();
        OnnxInspection read = Inspect(bytes);

        Assert.AreEqual(0, read.Warnings.Count, string.Join("\n", read.Warnings));
        OnnxLayerSize fc1 = Layer(read, "fc1").Size, fc2 = Layer(read, "fc2").Size;
        CollectionAssert.AreEqual(new[] { 2L, 5L }, fc1.Shape);
        Assert.AreEqual(3, fc1.KeptCount, "positions 1, 4, 9 fall in the first 10 slots");
        Assert.AreEqual(OnnxWeightEncoding.Compact, fc1.Encoding);
        CollectionAssert.AreEqual(new[] { 3L, 2L }, fc2.Shape);
        Assert.AreEqual(2, fc2.KeptCount, "int8 5 and −5 dequantise to non-zeros, the zeros stay zero");
        Assert.AreEqual((OnnxWeightEncoding.Dense, true), (fc2.Encoding, fc2.Quantized), "a dense int8 weight, dequantised");
        Assert.IsFalse(fc1.Quantized);
        Assert.AreEqual(2, read.Size.OtherParameterCount, "the bias b1; the int8 scale belongs to the weight");

        var folder = new OnnxConstantFolder(graph, 17);
        CollectionAssert.AreEqual(new[] { 0f, 0.5f, 0f, 0f, -1f, 0f, 0f, 0f, 0f, 2f }, folder.Evaluate("w1").Floats);
        CollectionAssert.AreEqual(new[] { 0f, 5 * 0.1f, 0f, -5 * 0.2f, 0f, 0f }, folder.Evaluate("w2").Floats);
        CollectionAssert.AreEqual(new[] { 0f, 0.25f, 0f, 0f, 0f, 0f }, folder.Evaluate("rest").Floats);
        // Everything both layers are made of is charged once: the two layers' bytes plus the rest of the file add up.
        long rest = graph.Node.Where(n => n.OpType == "Gemm").Sum(OnnxProtos.FieldBytes)
            + graph.Initializer.Where(t => t.Name == "b1").Sum(OnnxProtos.FieldBytes)
            + graph.Input.Concat(graph.Output).Sum(OnnxProtos.FieldBytes) + 1 + CodedOutputStream.ComputeStringSize(graph.Name);
        Assert.AreEqual(graph.CalculateSize(), fc1.WeightBytes + fc2.WeightBytes + rest);
    }

    [TestMethod]
    public void OnnxModelReader_Parse_NotAModel_SaysWhatWasFound()
    {
        byte[] good = OnnxModelWriter.Write(TestNetworks.LeNet(), new()).Bytes;
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelReader.Parse([], "m.onnx")).Message,
            "Cannot inspect 'm.onnx': expected an ONNX model, found an empty file");
        foreach (int cut in new[] { 10, good.Length / 3, good.Length / 2, good.Length - 3 })
        {
            string message = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelReader.Parse(good.AsSpan(0, cut), "m.onnx"), $"cut at {cut}").Message;
            StringAssert.Contains(message, "truncated or corrupt", $"cut at {cut}");
        }

        byte[] text = "name,label\nshirt.png,3\n"u8.ToArray();
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelReader.Parse(text, "m.onnx")).Message,
            "expected an ONNX model, found");

        ModelProto noOpset = ModelProto.Parser.ParseFrom(good);
        noOpset.OpsetImport.Clear();
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelReader.Parse(noOpset.ToByteArray(), "m.onnx")).Message,
            "without a default-domain opset_import");

        ModelProto missingTensor = ModelProto.Parser.ParseFrom(good);
        string fc2 = TestNetworks.WeightTensor(missingTensor.Graph, "fc2");
        missingTensor.Graph.Initializer.Remove(missingTensor.Graph.Initializer.Single(t => t.Name == fc2));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelReader.Parse(missingTensor.ToByteArray(), "m.onnx")).Message,
            $"node 'fc2' reads tensor '{fc2}', which nothing defines");
    }

    private static OnnxInspectedLayer Layer(OnnxInspection inspection, string node) => inspection.Layers.Single(l => l.NodeName == node);
}
