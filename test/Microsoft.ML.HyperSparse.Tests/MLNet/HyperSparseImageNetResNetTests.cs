using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// The photo-scale architecture through the public API: ResNet-18 is trained, pruned to exactly κ and scored from its
/// ONNX file like the CIFAR networks (a run of seconds, not a quality check).
/// </summary>
[TestClass]
public sealed class HyperSparseImageNetResNetTests
{
    private const int Classes = 10;
    private const int Side = 32;

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    /// <summary>20 RGB images of 32×32 in 0..255, class c brighter in channel c % 3 and in row band c.</summary>
    private static IDataView Data(MLContext ml)
    {
        var random = new Random(3);
        var rows = Enumerable.Range(0, 20).Select(i =>
        {
            int label = i % Classes;
            var pixels = new float[3 * Side * Side];
            for (int p = 0; p < pixels.Length; p++)
            {
                int channel = p / (Side * Side), row = p / Side % Side;
                bool bright = channel == label % 3 && row / 3 == label;
                pixels[p] = (bright ? 200 : 40) + random.Next(40);
            }
            return new Row { Features = pixels, Label = (uint)label };
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, Side, Side);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), Classes);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    [TestMethod]
    public void HyperSparseClassification_ResNet18_FitsOneEpochPerPhaseAndKeepsExactlyTheGlobalRule()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var options = new HyperSparseClassificationTrainer.Options
        {
            Architecture = HyperSparseArchitecture.ResNet18,
            PruningRate = 0.9,
            WarmupEpochs = 1,
            MaxArtEpochs = 1,
            FineTuneEpochs = 1,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = 10,
            LearningRate = 0.01,
            CropPadding = 0,
            HorizontalFlip = false,
            NumberOfThreads = 1,
        };
        var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(data);

        // ResNet-18's conv and linear weights for 10 classes (ImageNetResNetTests pins the count); strict |w| > τ keeps
        // N − ⌊κN⌋ − 1 when no other magnitude equals τ. Among 11 million float32 magnitudes about one lies in each float step
        // at τ, so a tie — which keeps one fewer per extra weight equal to τ — is a matter of the trajectory (one run here
        // kept 1,117,202). The exact rule, ties included, is pinned on synthetic weights by the MagnitudePruning tests.
        const long n = 11_172_032;
        Assert.AreEqual(n, model.Report.PrunableWeights);
        var withoutTies = n - (long)Math.Floor(0.9 * n) - 1;
        Assert.IsTrue(model.Report.KeptWeights <= withoutTies && model.Report.KeptWeights >= withoutTies - 3,
            $"kept {model.Report.KeptWeights:N0}: the global rule keeps {withoutTies:N0}, fewer only by weights tied with τ");
        Assert.AreEqual("conv1.weight", model.Report.Layers[0].Name);
        Assert.IsTrue(model.Report.Layers.Any(l => l.Name == "layer4.0.downsample.0.weight"), "torchvision's names reach the report");

        // The ONNX chain scores: one finite score per class for each image.
        var scores = ml.Data.CreateEnumerable<Scored>(model.Transform(data), reuseRowObject: false).ToList();
        Assert.HasCount(20, scores);
        foreach (var scored in scores)
        {
            Assert.HasCount(Classes, scored.Score);
            Assert.IsTrue(scored.Score.All(float.IsFinite));
        }
    }

    public sealed class Scored
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <summary>
    /// 30 real Fashion-MNIST images (grayscale, 0–255) padded to 32×32: the smallest size an ImageNet ResNet takes.
    /// </summary>
    private static IDataView GrayData(MLContext ml)
    {
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
        ImageDataset images = FashionMnist.Read(dir, train: true, limit: 30);
        var rows = Enumerable.Range(0, images.Count).Select(i =>
        {
            var pixels = new float[Side * Side];
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                    pixels[(y + 2) * Side + x + 2] = images.Pixels[i * 28 * 28 + y * 28 + x]; // raw 0–255
            return new Row { Features = pixels, Label = (uint)images.Labels[i] };
        }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, Side, Side);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), Classes);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>
    /// Fit from ML.NET's ImageNet ResNet-18 on grayscale images: the network and preprocessing come from the weights, the head
    /// stage trains only the new classifier (the backbone in the checkpoint after it is the file's, batch-norm statistics
    /// included), the report says what was loaded, and the exported model takes the one-channel column.
    /// </summary>
    [TestMethod]
    public void HyperSparseClassification_PretrainedImageNet_HeadStageTrainsOnlyTheClassifier_ReportAndOnnxSayWhat()
    {
        var ml = new MLContext(seed: 1);
        var data = GrayData(ml);
        string checkpoints = Path.Combine(Path.GetTempPath(), $"hs-pretrained-{Guid.NewGuid():N}");
        string afterHead = Path.Combine(Path.GetTempPath(), $"hs-head-{Guid.NewGuid():N}.hsckpt");
        var options = new HyperSparseClassificationTrainer.Options
        {
            Pretrained = HyperSparsePretrained.ImageNetResNet18(),
            PruningRate = 0.9,
            WarmupEpochs = 1,
            MaxArtEpochs = 1,
            FineTuneEpochs = 1,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = 15,
            CropPadding = 0,
            NumberOfThreads = 2,
            CheckpointFolder = checkpoints,
            // The checkpoint of an epoch is written after its progress report; ART's after its probe: copy the head stage's
            // (named by epochs finished: 1) when the fine-tune's first epoch reports, before a third checkpoint replaces it (two are kept).
            Progress = new SyncProgress(p =>
            {
                if (p.Kind == HyperSparseProgressKind.EpochFinished && p.Epoch?.Phase == HyperSparseTrainingPhase.FineTune && !File.Exists(afterHead))
                    File.Copy(new CheckpointDirectory(checkpoints).PathForEpoch(1), afterHead);
            }),
        };
        try
        {
            var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(data);

            Assert.AreEqual(HyperSparseArchitecture.ResNet18MLNet, model.Report.Architecture);
            var loaded = model.Report.Pretrained ?? throw new AssertFailedException("no pretrained report");
            StringAssert.EndsWith(loaded.Source, "ResNet18.onnx");
            CollectionAssert.AreEqual(new[] { "fc" }, loaded.NewLayers.ToArray());
            Assert.IsTrue(loaded.ReversedChannels);
            Assert.IsTrue(loaded.ReplicatedGrayscale);
            StringAssert.Contains(loaded.Preprocessing, "BGR");

            // Head stage: every backbone tensor is the file's (conv1 reordered to RGB), BN statistics untouched; fc moved.
            PretrainedWeights source = MLNetResNet18.ReadWeights();
            using (var state = CheckpointFile.Read(afterHead))
            {
                foreach (string name in new[] { "layer1.0.conv1.weight", "layer4.2.conv2.weight", "layer3.0.downsample.1.running_var", "bn1.bias" })
                {
                    float[] saved = state[$"model/{name}"].data<float>().ToArray();
                    CollectionAssert.AreEqual(source.Tensors[name].Values, saved, name);
                }
            }

            // The exported model takes the one-channel column and scores every image.
            using var session = new InferenceSession(model.OnnxModel.ToArray());
            CollectionAssert.AreEqual(new[] { -1, 1, Side, Side }, session.InputMetadata["Features"].Dimensions);
            var scores = ml.Data.CreateEnumerable<Scored>(model.Transform(data), reuseRowObject: false).ToList();
            Assert.HasCount(30, scores);
            Assert.IsTrue(scores.All(s => s.Score.Length == Classes && s.Score.All(float.IsFinite)));
        }
        finally
        {
            if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
            File.Delete(afterHead);
        }
    }

    [TestMethod]
    public void HyperSparseClassification_Pretrained_ImagesBelow32Pixels_NamesColumnMinimumAndFound()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 4).Select(i => new Row { Features = new float[28 * 28], Label = (uint)(i % 2) }).ToList();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), 2);
        var data = ml.Data.LoadFromEnumerable(rows, definition);
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(
            new HyperSparseClassificationTrainer.Options { Pretrained = HyperSparsePretrained.ImageNetResNet18(), NumberOfThreads = 1 });
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        StringAssert.Contains(e.Message, "Features");
        StringAssert.Contains(e.Message, "at least 32×32");
        StringAssert.Contains(e.Message, "1×28×28");
    }

    [TestMethod]
    public void HyperSparseClassification_Pretrained_FeaturizerFileMissing_NamesThePackageToReference()
    {
        var ml = new MLContext(seed: 1);
        var missing = Path.Combine(Path.GetTempPath(), $"hs-{Guid.NewGuid():N}", "ResNet18.onnx");
        var trainer = ml.MulticlassClassification.Trainers.HyperSparseClassification(
            new HyperSparseClassificationTrainer.Options { Pretrained = HyperSparsePretrained.ImageNetResNet18(missing), NumberOfThreads = 1 });
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => trainer.Fit(GrayData(ml)));
        StringAssert.Contains(e.Message, "Microsoft.ML.DnnImageFeaturizer.ResNet18");
        StringAssert.Contains(e.Message, missing);
    }

    /// <summary>
    /// A pretrained start within a time budget: the head stage keeps its epochs (never planned), the planner plans ART and
    /// the fine-tune from measured times with the pretrained firing guess, and the run ends near the budget.
    /// </summary>
    [TestMethod]
    public void HyperSparseClassification_PretrainedWithTimeBudget_HeadStageFixed_RestPlanned()
    {
        var ml = new MLContext(seed: 1);
        var options = new HyperSparseClassificationTrainer.Options
        {
            Pretrained = HyperSparsePretrained.ImageNetResNet18(),
            PruningRate = 0.9,
            TimeBudget = TimeSpan.FromSeconds(30),
            BatchSize = 15,
            CropPadding = 0,
            NumberOfThreads = 2,
        };
        var model = ml.MulticlassClassification.Trainers.HyperSparseClassification(options).Fit(GrayData(ml));
        var budget = model.Report.TimeBudget ?? throw new AssertFailedException("no time-budget report");
        Assert.AreEqual(HyperSparseDefaults.TransferHeadEpochs, model.Report.WarmupEpochs, "the head stage is not planned");
        CollectionAssert.Contains(budget.FixedSettings.ToArray(), "WarmupEpochs");
        Assert.IsGreaterThanOrEqualTo(1, model.Report.ArtEpochs);
        Assert.IsGreaterThanOrEqualTo(1, model.Report.FineTuneEpochs);
        Assert.IsFalse(budget.Decisions.Any(d => d.Setting == "WarmupEpochs"), "no decision changes the head stage");
        Assert.IsLessThan(60.0, budget.UsedSeconds, $"used {budget.UsedSeconds:F1} s of a 30 s budget");
    }

    private sealed class SyncProgress(Action<HyperSparseProgress> handler) : IProgress<HyperSparseProgress>
    {
        public void Report(HyperSparseProgress value) => handler(value);
    }
}
