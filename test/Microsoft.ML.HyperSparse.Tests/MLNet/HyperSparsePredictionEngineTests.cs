using Microsoft.ML.Data;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// What a PredictionEngine's input class needs (README "Use it from ML.NET", the trainer's remarks, Consume.cs): the float[]
/// feature member must carry its size, [VectorType(C*H*W)] (or a SchemaDefinition with the vector size). Without it ML.NET's
/// ONNX transformer fails with "Index was out of range" (an ArgumentOutOfRangeException); this pins both, so the docs are updated if ML.NET changes.
/// </summary>
[TestClass]
public sealed class HyperSparsePredictionEngineTests
{
    public sealed class Sized
    {
        [VectorType(16)]
        public float[] Pixels { get; set; } = [];

        public string Class { get; set; } = "";
    }

    public sealed class Unsized
    {
        public float[] Pixels { get; set; } = [];
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>1×4×4 images, raw 0..255: class "left" is bright in its left half.</summary>
    private static Sized Row(int i) => new()
    {
        Pixels = Enumerable.Range(0, 16).Select(p => (float)(((p % 4 < 2) == (i % 2 == 0) ? 200 : 30) + (i * 5 + p) % 40)).ToArray(),
        Class = i % 2 == 0 ? "left" : "right",
    };

    [TestMethod]
    public void PredictionEngine_InputClassWithVectorTypeOfCTimesHTimesW_ScoresLikeTransform_WithoutItFailsInsideMLNet()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 32).Select(Row).ToList());
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Sized.Class))
            .Append(ml.MulticlassClassification.Trainers.HyperSparseClassification(new HyperSparseClassificationTrainer.Options
            {
                Architecture = HyperSparseArchitecture.Mlp,
                FeatureColumnName = "Pixels",
                ImageChannels = 1, ImageHeight = 4, ImageWidth = 4,
                PruningRate = 0.9,
                WarmupEpochs = 1, MaxArtEpochs = 1, FineTuneEpochs = 1,
                LearningRateSteps = Array.Empty<int>(),
                BatchSize = 8,
                CropPadding = 0,
                HorizontalFlip = false,
                NumberOfThreads = 1,
            }))
            .Fit(data);

        var row = Row(101);
        var expected = model.Transform(ml.Data.LoadFromEnumerable(new[] { row })).GetColumn<float[]>("Score").Single();
        using (var engine = ml.Model.CreatePredictionEngine<Sized, Prediction>(model))
        {
            var score = engine.Predict(row).Score;
            Assert.HasCount(2, score);
            for (var c = 0; c < 2; c++) Assert.AreEqual(expected[c], score[c], 1e-6f);
        }

        // The same pixels in a float[] without [VectorType]: a vector of unknown size, which the ONNX transformer cannot bind.
        // (MapValueToKey needs its Class column, so the engine is made over the scoring part only.)
        var scoring = model.LastTransformer;
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
        {
            using var engine = ml.Model.CreatePredictionEngine<Unsized, Prediction>(scoring);
            engine.Predict(new Unsized { Pixels = row.Pixels });
        });
        StringAssert.StartsWith(ex.Message, "Index was out of range.");
        StringAssert.Contains(ex.StackTrace, "Microsoft.ML.Transforms.Onnx.OnnxTransformer");
    }
}
