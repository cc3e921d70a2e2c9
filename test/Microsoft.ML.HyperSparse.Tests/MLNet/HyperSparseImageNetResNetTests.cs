using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

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

        // ResNet-18's conv and linear weights for 10 classes (ImageNetResNetTests pins the count); strict |w| > τ keeps N − ⌊κN⌋ − 1.
        const long n = 11_172_032;
        Assert.AreEqual(n, model.Report.PrunableWeights);
        Assert.AreEqual(n - (long)Math.Floor(0.9 * n) - 1, model.Report.KeptWeights);
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
}
