using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>The estimator as users meet it: real Fashion-MNIST images on disk through ML.NET's image pipeline.</summary>
[TestClass]
public sealed class HyperSparseClassificationTests
{
    private static string folder = null!;
    private static List<ImageRow> trainRows = null!;
    private static List<ImageRow> testRows = null!;
    private static readonly string[] ClassNames = { "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot" };

    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string LabelText { get; set; } = "";
    }

    [ClassInitialize]
    public static void WriteImages(TestContext _)
    {
        var dir = FashionMnist.TryLocate() ?? throw new AssertInconclusiveException("Fashion-MNIST not installed");
        folder = Path.Combine(Path.GetTempPath(), "hs-mlnet-" + Guid.NewGuid().ToString("N"));
        trainRows = WritePngs(FashionMnist.Read(dir, train: true, limit: 1500), Path.Combine(folder, "train"));
        testRows = WritePngs(FashionMnist.Read(dir, train: false, limit: 500), Path.Combine(folder, "test"));
    }

    [ClassCleanup]
    public static void Cleanup()
    {
        if (folder is not null && Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private static List<ImageRow> WritePngs(ImageDataset data, string dir)
    {
        var rows = new List<ImageRow>();
        for (var i = 0; i < data.Count; i++)
        {
            var classDir = Path.Combine(dir, ClassNames[data.Labels[i]]);
            Directory.CreateDirectory(classDir);
            using var bitmap = new SKBitmap(data.Width, data.Height, SKColorType.Gray8, SKAlphaType.Opaque);
            var pixels = new byte[data.ImageSize];
            for (var p = 0; p < pixels.Length; p++) pixels[p] = (byte)data.Pixels[i * data.ImageSize + p];
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            var path = Path.Combine(classDir, $"{i:D5}.png");
            using (var stream = File.Create(path)) bitmap.Encode(stream, SKEncodedImageFormat.Png, 100);
            rows.Add(new ImageRow { ImagePath = path, LabelText = ClassNames[data.Labels[i]] });
        }
        return rows;
    }

    private static IEstimator<ITransformer> Featurize(MLContext ml) =>
        ml.Transforms.Conversion.MapValueToKey("Label", "LabelText")
            .Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Features", "Image", ImagePixelExtractingEstimator.ColorBits.Red));

    private static HyperSparseClassificationTrainer.Options Quick() => new()
    {
        Architecture = HyperSparseArchitecture.LeNet5,
        PruningRate = 0.9,
        WarmupEpochs = 3,
        LambdaInit = 2e-4,
        LambdaGrowth = 1.5,
        MaxArtEpochs = 5,
        FineTuneEpochs = 3,
        LearningRateSteps = new[] { 2 },
        LearningRate = 0.05,
        CropPadding = 2,
        HorizontalFlip = false,
    };

    [TestMethod]
    public void HyperSparseClassification_FitEvaluateSaveLoad_RealImages()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("HyperSparse", StringComparison.Ordinal)) lock (log) log.Add(e.Message); };
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var test = ml.Data.LoadFromEnumerable(testRows);
        var pipeline = Featurize(ml).Append(ml.MulticlassClassification.Trainers.HyperSparseClassification(Quick()));
        var model = pipeline.Fit(train);

        var predictions = model.Transform(test);
        var metrics = ml.MulticlassClassification.Evaluate(predictions);
        // Measured ≈0.75 on this slice and schedule; chance is 0.10.
        Assert.IsTrue(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F3}");
        Assert.IsTrue(log.Any(l => l.Contains("Art epoch")), "per-epoch progress reaches MLContext.Log:\n" + string.Join("\n", log.Take(5)));

        var hs = model.OfType<HyperSparseClassificationTransformer>().Single();
        Assert.AreEqual(61_470 - (long)Math.Floor(0.9 * 61_470) - 1, hs.Report.KeptWeights);
        Assert.IsTrue(hs.Report.OnnxBytes * 4 < hs.Report.DenseOnnxBytes, $"{hs.Report.OnnxBytes} vs {hs.Report.DenseOnnxBytes}");
        CollectionAssert.AreEquivalent(ClassNames, hs.Report.ClassNames.ToArray());

        // PredictedLabel maps back to the label's text values.
        var withText = ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel").Fit(predictions).Transform(predictions);
        // Known gap (issue #8 open): ML.NET maps the ONNX arg-max [batch] output to a one-element vector, so PredictedLabel
        // is a vector of one key rather than a scalar key.
        var predicted = withText.GetColumn<ReadOnlyMemory<char>[]>("PredictedText").Select(m => m.Single().ToString()).ToList();
        var truth = withText.GetColumn<string>("LabelText").ToList();
        Assert.AreEqual(predictions.Schema["Label"].Type, ((VectorDataViewType)predictions.Schema["PredictedLabel"].Type).ItemType, "PredictedLabel has the label's key type");
        Assert.IsTrue(predicted.Zip(truth).Count(p => p.First == p.Second) > 0.6 * truth.Count);

        var path = Path.Combine(folder, "model.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(path, out _);
        var a = model.Transform(test).GetColumn<float[]>("Score").ToList();
        var b = loaded.Transform(fresh.Data.LoadFromEnumerable(testRows)).GetColumn<float[]>("Score").ToList();
        Assert.AreEqual(a.Count, b.Count);
        for (var i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i], b[i], $"row {i}");

        var onnxPath = Path.Combine(folder, "model.onnx");
        hs.SaveOnnx(onnxPath);
        CollectionAssert.AreEqual(hs.OnnxModel.ToArray(), File.ReadAllBytes(onnxPath));
    }
}
