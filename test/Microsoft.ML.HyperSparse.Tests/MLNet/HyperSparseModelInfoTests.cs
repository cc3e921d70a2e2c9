using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// The inspector as users meet it: models trained through ML.NET in every weight encoding, saved as model.onnx and as
/// ML.NET's model.zip, read back with <see cref="HyperSparseModelInfo.Read(string)"/>; and the files it must refuse.
/// </summary>
[TestClass]
public sealed class HyperSparseModelInfoTests
{
    private static string folder = null!;
    private static readonly Dictionary<HyperSparseWeightEncoding, HyperSparseTrainingReport> Reports = new();
    private static HyperSparseTrainingReport quantizedReport = null!;
    private static float[] trainingPixels = null!;

    public TestContext TestContext { get; set; } = null!;

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    [ClassInitialize]
    public static void TrainEveryEncoding(TestContext _)
    {
        folder = Directory.CreateTempSubdirectory("hs-inspect-").FullName;
        foreach (var (encoding, quantize) in Enum.GetValues<HyperSparseWeightEncoding>().Select(e => (e, false)).Append((HyperSparseWeightEncoding.Compact, true)))
        {
            var ml = new MLContext(seed: 1);
            var data = Data(ml);
            trainingPixels = data.GetColumn<float[]>("Features").SelectMany(f => f).ToArray();
            var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(new HyperSparseClassificationTrainer.Options
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
                WeightEncoding = encoding,
                QuantizeWeights = quantize,
            }).Fit(data);
            model.SaveOnnx(Onnx(encoding, quantize));
            ml.Model.Save(model, data.Schema, Zip(encoding, quantize));
            if (quantize)
                quantizedReport = model.Report;
            else
                Reports[encoding] = model.Report;
        }
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        if (folder is not null && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

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

    private static string Onnx(HyperSparseWeightEncoding encoding, bool quantize = false) => Path.Combine(folder, $"model-{encoding}{(quantize ? "-int8" : "")}.onnx");

    private static string Zip(HyperSparseWeightEncoding encoding, bool quantize = false) => Path.Combine(folder, $"model-{encoding}{(quantize ? "-int8" : "")}.zip");

    private static string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void Read_EveryEncodingOnnxAndZip_FiguresEqualTheTrainingReport()
    {
        var cases = Reports.Select(r => (r.Key, false, r.Value)).Append((HyperSparseWeightEncoding.Compact, true, quantizedReport));
        foreach ((HyperSparseWeightEncoding encoding, bool quantized, HyperSparseTrainingReport report) in cases)
        foreach (string path in new[] { Onnx(encoding, quantized), Zip(encoding, quantized) })
        {
            var info = HyperSparseModelInfo.Read(path);
            string context = $"{encoding} {Path.GetFileName(path)}";
            Assert.AreEqual(quantized, report.Layers.All(l => l.Encoding.EndsWith("+int8", StringComparison.Ordinal)), context + " int8 in the report");

            Assert.IsTrue(info.IsHyperSparseModel, context);
            Assert.AreEqual(0, info.Warnings.Count, context + ": " + string.Join("\n", info.Warnings));
            var pruned = info.Layers.Where(l => !l.KeptDense).ToList();
            Assert.AreEqual(report.Layers.Count, pruned.Count, context + " layers");
            for (var i = 0; i < pruned.Count; i++)
            {
                // The report's Shape/Total/Kept are the trained layer's, the inspector's the file's (after the dead-channel
                // shrink); both carry both, under the same names: TrainedShape/TrainedKept and ShippedShape/ShippedKept.
                HyperSparseLayer expected = report.Layers[i];
                HyperSparseModelLayer actual = pruned[i];
                string layer = $"{context} {expected.Name}";
                Assert.AreEqual(expected.Name, actual.Name, layer);
                CollectionAssert.AreEqual(expected.TrainedShape, actual.TrainedShape, layer);
                Assert.AreEqual(expected.TrainedTotal, actual.TrainedShape.Aggregate(1L, (a, b) => a * b), layer);
                Assert.AreEqual(expected.TrainedKept, actual.TrainedKept, layer);
                CollectionAssert.AreEqual(expected.ShippedShape, actual.ShippedShape, layer);
                Assert.AreEqual(expected.ShippedShape.Aggregate(1L, (a, b) => a * b), actual.ShippedTotal, layer);
                Assert.AreEqual(expected.ShippedKept, actual.ShippedKept, layer);
                Assert.AreEqual((expected.OutputChannelsRemoved, expected.InputChannelsRemoved), (actual.OutputChannelsRemoved, actual.InputChannelsRemoved), layer);
                Assert.AreEqual(expected.TrainedSparsity, 1.0 - (double)actual.TrainedKept / expected.TrainedTotal, layer);
                Assert.AreEqual(expected.Encoding, actual.Encoding, layer);
                Assert.AreEqual(expected.OnnxBytes, actual.OnnxBytes, layer);
                Assert.AreEqual("Gemm", actual.Op, layer);
            }

            Assert.AreEqual(report.OnnxBytes, info.OnnxBytes, context + " file bytes");
            Assert.AreEqual(report.DenseOnnxBytes, info.DenseOnnxBytes, context + " dense bytes");
            Assert.AreEqual(report.BoundBytes, info.BoundBytes, context + " bound");
            Assert.AreEqual(report.PrunableWeights, info.TrainedPrunableWeights, context);
            Assert.AreEqual(report.KeptWeights, info.TrainedKeptWeights, context);
            Assert.AreEqual(report.AchievedSparsity, info.TrainedSparsity, context);
            Assert.AreEqual(report.Layers.Sum(l => l.ShippedShape.Aggregate(1L, (a, b) => a * b)), info.PrunableWeights, context);
            Assert.AreEqual(report.Layers.Sum(l => l.ShippedKept), info.KeptWeights, context);
            Assert.AreEqual(path.EndsWith(".zip", StringComparison.Ordinal) ? "TransformerChain/Transform_000/OnnxModel" : null, info.ZipEntry, context);
        }

        // The figures are not all trivially equal: the encodings differ in bytes, Compact is the smallest and int8 smaller still.
        var sizes = Reports.ToDictionary(r => r.Key, r => HyperSparseModelInfo.Read(Onnx(r.Key)).OnnxBytes);
        Assert.IsLessThan(sizes[HyperSparseWeightEncoding.Compact], HyperSparseModelInfo.Read(Onnx(HyperSparseWeightEncoding.Compact, true)).OnnxBytes);
        Assert.IsTrue(sizes[HyperSparseWeightEncoding.Compact] < sizes[HyperSparseWeightEncoding.SparseInitializer], string.Join(", ", sizes));
        Assert.IsTrue(sizes[HyperSparseWeightEncoding.SparseInitializer] < sizes[HyperSparseWeightEncoding.Dense], string.Join(", ", sizes));
    }

    [TestMethod]
    public void Fit_ShrinkDeadChannels_OnByDefaultReportAndInspectorShowWhatWasRemoved()
    {
        Assert.IsTrue(new HyperSparseClassificationTrainer.Options().ShrinkDeadChannels, "on by default");
        var report = Reports[HyperSparseWeightEncoding.Compact];
        var info = HyperSparseModelInfo.Read(Onnx(HyperSparseWeightEncoding.Compact));
        string text = info.ToString();
        TestContext.WriteLine(text);

        // κ = 0.9 over a 16-pixel MLP leaves hidden neurons without a kept weight: constant, so the exporter removes them.
        Assert.IsGreaterThan(0L, report.Layers.Sum(l => l.OutputChannelsRemoved), string.Join(", ", report.Layers.Select(l => $"{l.Name} {string.Join('x', l.TrainedShape)} → {string.Join('x', l.ShippedShape)}")));
        Assert.IsLessThan(report.KeptWeights + 1, report.Layers.Sum(l => l.ShippedKept), "no kept weight is added");
        Assert.AreEqual(report.Layers[^1].TrainedShape[0], report.Layers[^1].ShippedShape[0], "the logits keep every class");

        var header = text.Split('\n').Single(l => l.StartsWith("Layer ", StringComparison.Ordinal));
        StringAssert.EndsWith(header, "Removed");
        foreach (HyperSparseModelLayer layer in info.Layers.Where(l => l.OutputChannelsRemoved > 0))
        {
            string row = text.Split('\n').Single(l => l.StartsWith(layer.Name + " ", StringComparison.Ordinal));
            StringAssert.Contains(row, $"{layer.OutputChannelsRemoved} of {layer.TrainedShape[0]} out");
        }
        StringAssert.Contains(text, $"Dead channels removed by the exporter: {info.Layers.Sum(l => l.OutputChannelsRemoved)} output channels");
        StringAssert.Contains(text, $"As trained: pruned layers {report.PrunableWeights:N0} weights, {report.KeptWeights:N0} kept");
        StringAssert.Contains(report.ToJson(), "\"ShippedShape\"");
        StringAssert.Contains(info.ToJson(), "\"TrainedShape\"");
    }

    [TestMethod]
    public void Fit_ShrinkDeadChannelsOff_FileHoldsEveryTrainedChannel()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(new HyperSparseClassificationTrainer.Options
        {
            Architecture = HyperSparseArchitecture.Mlp, PruningRate = 0.9, WarmupEpochs = 1, MaxArtEpochs = 1, FineTuneEpochs = 1,
            LearningRateSteps = Array.Empty<int>(), BatchSize = 16, CropPadding = 0, HorizontalFlip = false, ShrinkDeadChannels = false,
        }).Fit(data);
        var report = model.Report;
        foreach (HyperSparseLayer layer in report.Layers)
        {
            CollectionAssert.AreEqual(layer.TrainedShape, layer.ShippedShape, layer.Name);
            Assert.AreEqual(layer.TrainedKept, layer.ShippedKept, layer.Name);
        }

        using var stream = new MemoryStream(model.OnnxModel.ToArray());
        var info = HyperSparseModelInfo.Read(stream);
        Assert.AreEqual(0, info.Warnings.Count, string.Join("\n", info.Warnings));
        CollectionAssert.AreEqual(report.Layers.Select(l => string.Join('x', l.TrainedShape)).ToArray(), info.Layers.Select(l => string.Join('x', l.ShippedShape)).ToArray());
        Assert.AreEqual((report.PrunableWeights, report.KeptWeights), (info.PrunableWeights, info.KeptWeights));
        Assert.AreEqual((info.PrunableWeights, info.KeptWeights), (info.TrainedPrunableWeights, info.TrainedKeptWeights));
        Assert.IsFalse(info.ToString().Contains("Removed", StringComparison.Ordinal), info.ToString());
    }

    [TestMethod]
    public void Fit_QuantizeWeights_ReportStatesTheAccuracyChangeOnTheTrainingSetWithoutValidationSet()
    {
        Assert.IsNull(Reports[HyperSparseWeightEncoding.Compact].Quantization, "float model: no quantisation check");
        HyperSparseQuantizationCheck check = quantizedReport.Quantization!;
        Assert.IsNotNull(check);
        Assert.AreEqual(("training set", 48), (check.EvaluatedOn, check.Images));
        Assert.IsTrue(check.FloatAccuracy is >= 0 and <= 100 && check.QuantizedAccuracy is >= 0 and <= 100, check.ToString());
        Assert.AreEqual(check.QuantizedAccuracy - check.FloatAccuracy, check.AccuracyChange, 1e-12);
        Assert.IsTrue(check.ChangedPredictions is >= 0 and <= 48, check.ToString());
        StringAssert.Contains(quantizedReport.ToJson(), "\"Quantization\"");
    }

    [TestMethod]
    public void Read_ZipOfAPipelineEndingInTheTrainer_FindsTheNestedOnnxModel()
    {
        // As in the README: transforms, then the trainer; the saved chain nests the trainer's own ONNX scoring chain.
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var pipeline = ml.Transforms.CopyColumns("Original", "Features")
            .Append(ml.MulticlassClassification.Trainers.HyperSparseClassification(new HyperSparseClassificationTrainer.Options
            {
                Architecture = HyperSparseArchitecture.Mlp, PruningRate = 0.9, WarmupEpochs = 1, MaxArtEpochs = 1, FineTuneEpochs = 1,
                LearningRateSteps = Array.Empty<int>(), BatchSize = 16, CropPadding = 0, HorizontalFlip = false,
            }));
        var model = pipeline.Fit(data);
        string path = Path.Combine(folder, "pipeline.zip");
        ml.Model.Save(model, data.Schema, path);

        var info = HyperSparseModelInfo.Read(path);
        var report = model.LastTransformer.Report;
        Assert.AreEqual(0, info.Warnings.Count, string.Join("\n", info.Warnings));
        StringAssert.EndsWith(info.ZipEntry, "/OnnxModel");
        Assert.AreNotEqual("TransformerChain/Transform_000/OnnxModel", info.ZipEntry, "nested below the pipeline's chain");
        Assert.AreEqual(report.OnnxBytes, info.OnnxBytes);
        CollectionAssert.AreEqual(report.Layers.Select(l => l.ShippedKept).ToArray(), info.Layers.Select(l => l.ShippedKept).ToArray());
        CollectionAssert.AreEqual(report.Layers.Select(l => l.TrainedKept).ToArray(), info.Layers.Select(l => l.TrainedKept).ToArray());
    }

    [TestMethod]
    public void Read_Contract_InputShapeNormalisationClassesAndOutputs()
    {
        var contract = HyperSparseModelInfo.Read(Zip(HyperSparseWeightEncoding.Compact)).Contract;

        Assert.AreEqual("Features", contract.InputName);
        CollectionAssert.AreEqual(new[] { "batch", "1", "4", "4" }, contract.InputShape.ToArray());
        Assert.AreEqual(1f, contract.PixelScale, "pixels already in 0..1");
        double mean = trainingPixels.Average();
        double std = Math.Sqrt(trainingPixels.Average(p => (p - mean) * (p - mean)));
        Assert.AreEqual(mean, contract.Mean!.Single(), 1e-5, "mean of the training pixels");
        Assert.AreEqual(std, contract.Std!.Single(), 1e-5, "population std of the training pixels");
        Assert.AreEqual(3, contract.ClassCount);
        Assert.AreEqual("Score", contract.ScoreOutputName);
        Assert.IsNull(contract.PredictedIndexOutputName);
        Assert.AreEqual("Logits", contract.LogitsOutputName);
        CollectionAssert.AreEqual(new[] { "Score", "Logits" }, contract.OutputNames.ToArray());
    }

    [TestMethod]
    public void Read_Stream_SameFiguresAsThePath()
    {
        var fromPath = HyperSparseModelInfo.Read(Zip(HyperSparseWeightEncoding.Compact));
        using var stream = File.OpenRead(Zip(HyperSparseWeightEncoding.Compact));
        var fromStream = HyperSparseModelInfo.Read(stream);

        Assert.AreEqual("stream", fromStream.Source);
        Assert.AreEqual(Path.GetFullPath(Zip(HyperSparseWeightEncoding.Compact)), fromPath.Source);
        Assert.AreEqual(fromPath.ToString().Replace(fromPath.Source, "stream", StringComparison.Ordinal), fromStream.ToString());
    }

    [TestMethod]
    public void ToString_IsATableOfLayersTotalsBoundAndContract()
    {
        var info = HyperSparseModelInfo.Read(Zip(HyperSparseWeightEncoding.Compact));
        string text = info.ToString();

        StringAssert.Contains(text, "→ TransformerChain/Transform_000/OnnxModel");
        StringAssert.Contains(text, "Producer: HyperSparse.MLNet");
        StringAssert.Contains(text, "Input:    'Features' float [batch, 1, 4, 4], normalised in the model as (x × 1 − mean) / std");
        StringAssert.Contains(text, "Outputs:  'Score' softmax over 3 classes; 'Logits' logits");
        var header = text.Split('\n').Single(l => l.StartsWith("Layer ", StringComparison.Ordinal));
        foreach (string column in new[] { "Op", "Shape", "Weights", "Kept", "Sparsity", "Encoding", "Bytes", "Bound" })
            StringAssert.Contains(header, column);
        foreach (HyperSparseModelLayer layer in info.Layers)
        {
            string row = text.Split('\n').Single(l => l.StartsWith(layer.Name + " ", StringComparison.Ordinal));
            StringAssert.Contains(row, $"{layer.ShippedShape[0]}x{layer.ShippedShape[1]}");
            StringAssert.Contains(row, layer.ShippedKept.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
            StringAssert.Contains(row, layer.Encoding);
            StringAssert.Contains(row, layer.OnnxBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        }

        StringAssert.Contains(text, $"File:  {info.OnnxBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes");
        StringAssert.Contains(text, $"Dense: {info.DenseOnnxBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes");
        StringAssert.Contains(text, $"Bound: {info.BoundBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes");
        Assert.IsFalse(text.Contains("Warnings", StringComparison.Ordinal), text);
    }

    [TestMethod]
    public void Read_MissingFileOrFolder_ThrowsFileNotFoundNamingThePath()
    {
        string missing = Path.Combine(folder, "no-such-model.onnx");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => HyperSparseModelInfo.Read(missing));
        Assert.AreEqual($"Cannot inspect '{missing}': expected a .onnx file or an ML.NET model .zip, found no such file.", e.Message);
        Assert.AreEqual(missing, e.FileName);
        StringAssert.Contains(Assert.ThrowsExactly<FileNotFoundException>(() => HyperSparseModelInfo.Read(folder)).Message, "found a folder");
        Assert.ThrowsExactly<ArgumentException>(() => HyperSparseModelInfo.Read(" "));
        Assert.ThrowsExactly<ArgumentNullException>(() => HyperSparseModelInfo.Read((Stream)null!));
    }

    [TestMethod]
    public void Read_TruncatedEmptyOrForeignBytes_ThrowsInvalidDataSayingWhatWasFound()
    {
        byte[] onnx = File.ReadAllBytes(Onnx(HyperSparseWeightEncoding.Compact));
        string truncated = Write("truncated.onnx", onnx[..(onnx.Length / 2)]);
        string message = Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(truncated)).Message;
        StringAssert.StartsWith(message, $"Cannot inspect '{truncated}': expected an ONNX model, found bytes that do not parse as an ONNX ModelProto (truncated or corrupt");

        string empty = Write("empty.onnx", []);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(empty)).Message, "found an empty file");

        string csv = Write("labels.onnx", "path,label\nshirt.png,3\n"u8.ToArray());
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(csv)).Message, "expected an ONNX model, found");
    }

    [TestMethod]
    public void Read_TruncatedOrCorruptZip_ThrowsInvalidDataNamingTheZip()
    {
        byte[] zip = File.ReadAllBytes(Zip(HyperSparseWeightEncoding.Compact));
        string truncated = Write("truncated.zip", zip[..(zip.Length - 100)]);
        string message = Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(truncated)).Message;
        StringAssert.StartsWith(message, $"Cannot inspect '{truncated}': expected a readable zip (an ML.NET model.zip), found a truncated or corrupt zip");

        // The ONNX entry cut short inside an otherwise sound zip: ML.NET's length prefix no longer matches.
        string shortEntry = Path.Combine(folder, "short-entry.zip");
        File.Copy(Zip(HyperSparseWeightEncoding.Compact), shortEntry, overwrite: true);
        using (var archive = ZipFile.Open(shortEntry, ZipArchiveMode.Update))
        {
            ZipArchiveEntry entry = archive.GetEntry("TransformerChain/Transform_000/OnnxModel")!;
            byte[] bytes;
            using (var stream = entry.Open()) { using var copy = new MemoryStream(); stream.CopyTo(copy); bytes = copy.ToArray(); }
            entry.Delete();
            using var rewritten = archive.CreateEntry("TransformerChain/Transform_000/OnnxModel").Open();
            rewritten.Write(bytes, 0, bytes.Length - 10);
        }

        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(shortEntry)).Message,
            "zip entry 'TransformerChain/Transform_000/OnnxModel': expected ML.NET's 4-byte length followed by that many ONNX bytes");
    }

    [TestMethod]
    public void Read_ZipWithoutOnnxModel_ThrowsListingTheEntries()
    {
        // An ML.NET model of another kind: a plain normalizer chain has no OnnxModel entry.
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var normalizer = ml.Transforms.NormalizeMinMax("Features").Fit(data);
        string path = Path.Combine(folder, "normalizer.zip");
        ml.Model.Save(normalizer, data.Schema, path);

        string message = Assert.ThrowsExactly<InvalidDataException>(() => HyperSparseModelInfo.Read(path)).Message;
        StringAssert.StartsWith(message, $"Cannot inspect '{path}': expected a zip holding an ONNX model");
        StringAssert.Contains(message, "found entries 'TrainingInfo/Version.txt'");
    }

    [TestMethod]
    public void Read_OnnxFromAnotherTool_ReportsWhatTheGraphSays()
    {
        // The same graph without HyperSparse metadata and with another producer, as a file from another exporter would be.
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Onnx(HyperSparseWeightEncoding.Compact)));
        model.MetadataProps.Clear();
        model.ProducerName = "other-exporter";
        model.ProducerVersion = "2.0";
        string path = Write("foreign.onnx", Google.Protobuf.MessageExtensions.ToByteArray(model));

        var info = HyperSparseModelInfo.Read(path);
        var report = Reports[HyperSparseWeightEncoding.Compact];
        Assert.IsFalse(info.IsHyperSparseModel);
        Assert.AreEqual("other-exporter 2.0", info.Producer);
        Assert.AreEqual(0, info.Warnings.Count, string.Join("\n", info.Warnings));
        // The graph alone: the layers as the file holds them (what the shrink removed is only in the stripped metadata).
        CollectionAssert.AreEqual(report.Layers.Select(l => l.ShippedKept).ToArray(), info.Layers.Select(l => l.ShippedKept).ToArray());
        CollectionAssert.AreEqual(info.Layers.Select(l => l.ShippedKept).ToArray(), info.Layers.Select(l => l.TrainedKept).ToArray());
        CollectionAssert.AreEqual(report.Layers.Select(l => l.Encoding).ToArray(), info.Layers.Select(l => l.Encoding).ToArray());
        Assert.AreEqual("Features", info.Contract.InputName);
        Assert.AreEqual(3, info.Contract.ClassCount, "from the first output's last dimension");
        Assert.IsNull(info.Contract.PixelScale);
        Assert.IsNull(info.Contract.ScoreOutputName);
        StringAssert.Contains(info.ToString(), "normalisation unknown: no HyperSparse metadata");
        StringAssert.Contains(info.ToString(), "'Score', 'Logits' (3 classes)");
    }
}
