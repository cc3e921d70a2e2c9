using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// <see cref="HyperSparseClassificationTrainer.Options.KeepDenseLayers"/> as users meet it: named layers stay dense in the
/// training report, in the ONNX file and in what <see cref="HyperSparseModelInfo"/> reads back, κ applies exactly to the
/// other layers, and a name that matches no layer fails at the catalog call with the architecture's layer names.
/// </summary>
[TestClass]
public sealed class HyperSparseKeepDenseTests
{
    public TestContext TestContext { get; set; } = null!;

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    /// <summary>48 images of 1×4×4, 3 classes told apart by which row of pixels is bright.</summary>
    private static IDataView Data(MLContext ml)
    {
        var rows = Enumerable.Range(0, 48).Select(i => new Row
        {
            Features = Enumerable.Range(0, 16).Select(p => (p / 4 == i % 3 ? 0.8f : 0.1f) + (i * 7 + p) % 5 / 50f).ToArray(),
            Label = (uint)(i % 3),
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 4, 4);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 3);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    private static HyperSparseClassificationTrainer.Options Tiny(params string[] keepDense) => new()
    {
        Architecture = HyperSparseArchitecture.Mlp,
        PruningRate = 0.9,
        WarmupEpochs = 1,
        MaxArtEpochs = 1,
        FineTuneEpochs = 1,
        LearningRateSteps = Array.Empty<int>(),
        BatchSize = 16,
        CropPadding = 0,
        HorizontalFlip = false,
        KeepDenseLayers = keepDense,
    };

    [TestMethod]
    public void HyperSparseClassification_KeepDenseLayers_DenseInReportOnnxAndInspectorKappaExactOverTheRest()
    {
        var ml = new MLContext(seed: 1);
        // The report's spelling (with .weight) and a glob: the Mlp's first and last layers stay dense, fc2 is pruned.
        var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(Tiny("fc1.weight", "f?3")).Fit(Data(ml));
        var report = model.Report;

        const long n = 300 * 100;
        const long kept = n - 27_000 - 1;   // N − ⌊κN⌋ − 1 over fc2 alone
        Assert.AreEqual(n, report.PrunableWeights);
        Assert.AreEqual(kept, report.KeptWeights);
        Assert.AreEqual(1.0 - (double)kept / n, report.AchievedSparsity);
        CollectionAssert.AreEqual(new[] { "fc1.weight", "fc2.weight", "fc3.weight" }, report.Layers.Select(l => l.Name).ToArray());
        foreach (var layer in report.Layers)
        {
            var dense = layer.Name != "fc2.weight";
            Assert.AreEqual(dense, layer.KeptDense, layer.Name);
            if (dense)
            {
                Assert.AreEqual(layer.TrainedTotal, layer.TrainedKept, $"{layer.Name}: no weight pruned");
                Assert.AreEqual("Dense", layer.Encoding, $"{layer.Name} is stored dense");
            }
        }
        StringAssert.Contains(report.ToJson(), "\"KeptDense\": true");

        // The file says the same, read back without the training report.
        var path = Path.Combine(Path.GetTempPath(), $"hs-keepdense-{Guid.NewGuid():N}.onnx");
        try
        {
            model.SaveOnnx(path);
            var info = HyperSparseModelInfo.Read(path);
            Assert.AreEqual(0, info.Warnings.Count, string.Join("\n", info.Warnings));
            CollectionAssert.AreEqual(new[] { "fc1", "fc2", "fc3" }, info.Layers.Select(l => l.Node).ToArray());
            foreach (var layer in info.Layers)
            {
                var expected = report.Layers.Single(l => l.Name == layer.Node + ".weight");
                Assert.AreEqual(expected.KeptDense, layer.KeptDense, layer.Node);
                Assert.AreEqual(expected.TrainedKept, layer.TrainedKept, layer.Node);
                Assert.AreEqual(expected.ShippedKept, layer.ShippedKept, layer.Node);
                Assert.AreEqual(expected.Encoding, layer.Encoding, layer.Node);
                Assert.AreEqual(expected.OnnxBytes, layer.OnnxBytes, layer.Node);
            }
            Assert.AreEqual(report.PrunableWeights, info.TrainedPrunableWeights);
            Assert.AreEqual(report.KeptWeights, info.TrainedKeptWeights);
            Assert.AreEqual(report.AchievedSparsity, info.TrainedSparsity);
            Assert.AreEqual(report.Layers.Where(l => !l.KeptDense).Sum(l => l.ShippedKept), info.KeptWeights);
            Assert.AreEqual(report.OnnxBytes, info.OnnxBytes);
            Assert.AreEqual(report.BoundBytes, info.BoundBytes);

            // The text marks the layers kept dense.
            var text = info.ToString();
            TestContext.WriteLine(text);
            foreach (var layer in info.Layers)
            {
                var row = text.Split('\n').Single(l => l.StartsWith(layer.Name + " ", StringComparison.Ordinal));
                Assert.AreEqual(layer.KeptDense, row.StartsWith(layer.Name + " *", StringComparison.Ordinal), row);
            }
            StringAssert.Contains(text, "* kept dense (excluded)");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [DataRow("conv9")]
    [DataRow("fc")]
    public void HyperSparseClassification_KeepDenseLayerUnknown_ThrowsAtCatalogCallListingTheLayers(string entry)
    {
        var ml = new MLContext();
        var options = Tiny("conv1", entry);
        options.Architecture = HyperSparseArchitecture.LeNet5;
        var ex = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.HyperSparseClassification(options));
        Assert.AreEqual(nameof(options.KeepDenseLayers), ex.ParamName);
        StringAssert.Contains(ex.Message, $"Option 'KeepDenseLayers': entry '{entry}' matches no layer of LeNet5");
        StringAssert.Contains(ex.Message, "conv1, conv2, fc1, fc2, fc3");
    }

    [TestMethod]
    public void HyperSparseClassification_KeepDenseEveryLayer_ThrowsAtCatalogCall()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().MulticlassClassification.Trainers.HyperSparseClassification(Tiny("fc*")));
        Assert.AreEqual("KeepDenseLayers", ex.ParamName);
        StringAssert.Contains(ex.Message, "nothing is left to prune");
        StringAssert.Contains(ex.Message, "fc1, fc2, fc3");
    }

    [TestMethod]
    public void Fit_CallersArrayChangedAfterCreation_TrainsWithTheLayersGivenAtCreation()
    {
        var ml = new MLContext();
        var options = Tiny("fc1");
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
        // The trainer keeps a copy, arrays included: neither the caller's object nor a TrainerOptions copy reaches it.
        options.KeepDenseLayers[0] = "nothing-like-this";
        trainer.TrainerOptions.KeepDenseLayers = new[] { "fc2" };
        CollectionAssert.AreEqual(new[] { "fc1" }, trainer.TrainerOptions.KeepDenseLayers);
        var report = trainer.Fit(Data(ml)).Report;
        CollectionAssert.AreEqual(new[] { "fc1.weight" }, report.Layers.Where(l => l.KeptDense).Select(l => l.Name).ToArray());
    }

    [TestMethod]
    public void LayerNames_EveryArchitecture_AreWhatKeepDenseLayersAccepts()
    {
        Assert.IsEmpty(new HyperSparseClassificationTrainer.Options().KeepDenseLayers, "default: every conv and linear layer is pruned");
        CollectionAssert.AreEqual(new[] { "conv1", "conv2", "fc1", "fc2", "fc3" }, HyperSparseClassificationTrainer.LayerNames(HyperSparseArchitecture.LeNet5).ToArray());
        CollectionAssert.AreEqual(new[] { "fc1", "fc2", "fc3" }, HyperSparseClassificationTrainer.LayerNames(HyperSparseArchitecture.Mlp).ToArray());
        var resnet = HyperSparseClassificationTrainer.LayerNames(HyperSparseArchitecture.ResNet20);
        Assert.HasCount(22, resnet);
        Assert.AreEqual("conv1", resnet[0]);
        Assert.AreEqual("fc", resnet[^1]);
        Assert.HasCount(34, HyperSparseClassificationTrainer.LayerNames(HyperSparseArchitecture.ResNet32));
        Assert.AreEqual("classifier", HyperSparseClassificationTrainer.LayerNames(HyperSparseArchitecture.Vgg19)[^1]);

        // Every listed name is accepted on its own.
        var ml = new MLContext();
        foreach (var architecture in Enum.GetValues<HyperSparseArchitecture>())
            foreach (var name in HyperSparseClassificationTrainer.LayerNames(architecture))
            {
                var options = Tiny(name);
                options.Architecture = architecture;
                _ = ml.MulticlassClassification.Trainers.HyperSparseClassification(options);
            }
    }
}
