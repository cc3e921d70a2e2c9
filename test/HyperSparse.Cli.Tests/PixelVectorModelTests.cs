using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;
using SkiaSharp;

namespace HyperSparse.Cli.Tests;

/// <summary>
/// A model.zip trained through the C# API on a flat pixel vector (a float[] column "Pixels" of 64 values, ImageChannels 1,
/// ImageHeight 8, ImageWidth 8, no LoadImages in the chain) works with <c>predict</c> and <c>evaluate</c>: the CLI reads the
/// input contract from the model (column, C×H×W, pixel scale) and feeds image files as that vector. Its scores equal ML.NET's
/// for the same pixels.
/// </summary>
[TestClass]
public sealed class PixelVectorModelTests
{
    public sealed class PixelRow
    {
        [VectorType(64)]
        public float[] Pixels { get; set; } = [];

        public string Class { get; set; } = "";
    }

    public sealed class ClassOnly
    {
        public string Class { get; set; } = "";
    }

    /// <summary>An 8×8 gray image: class "top" is bright in its upper half, "bottom" in its lower half; raw 0..255 integers.</summary>
    private static PixelRow Row(int i)
    {
        var top = i % 2 == 0;
        var pixels = new float[64];
        for (var p = 0; p < 64; p++)
            pixels[p] = ((p < 32) == top ? 180 : 20) + (i * 13 + p * 7) % 60;
        return new PixelRow { Pixels = pixels, Class = top ? "top" : "bottom" };
    }

    private static void WritePng(string path, float[] gray)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (var p = 0; p < 64; p++)
        {
            var v = (byte)gray[p];
            bitmap.SetPixel(p % 8, p / 8, new SKColor(v, v, v));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
    }

    [TestMethod]
    public void PredictAndEvaluate_ModelTrainedOnAFlatPixelVector_ReadTheInputFromTheModelAndAgreeWithMLNet()
    {
        var root = CliRunner.TempFolder("hs-pixel-model");
        try
        {
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 40).Select(Row).ToList());
            var options = new HyperSparseClassificationTrainer.Options
            {
                Architecture = HyperSparseArchitecture.Mlp,
                FeatureColumnName = "Pixels",
                ImageChannels = 1,
                ImageHeight = 8,
                ImageWidth = 8,
                PruningRate = 0.9,
                WarmupEpochs = 1,
                MaxArtEpochs = 1,
                FineTuneEpochs = 1,
                LearningRateSteps = Array.Empty<int>(),
                BatchSize = 8,
                CropPadding = 0,
                HorizontalFlip = false,
                NumberOfThreads = 1,
            };
            var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(PixelRow.Class))
                .Append(ml.MulticlassClassification.Trainers.HyperSparseClassification(options))
                .Fit(data);
            var zip = Path.Combine(root, "model.zip");
            ml.Model.Save(model, data.Schema, zip);

            // Held-out images, written as PNG files in class folders, and the same pixels scored by ML.NET directly.
            var held = Enumerable.Range(100, 6).Select(Row).ToList();
            var paths = held.Select((r, k) => Path.Combine(root, "images", r.Class, $"{k}.png")).ToList();
            for (var k = 0; k < held.Count; k++) WritePng(paths[k], held[k].Pixels);
            var direct = model.Transform(ml.Data.LoadFromEnumerable(held)).GetColumn<float[]>("Score").ToList();
            var slotNames = new VBuffer<ReadOnlyMemory<char>>();
            model.GetOutputSchema(data.Schema)["Score"].GetSlotNames(ref slotNames);
            var classNames = slotNames.DenseValues().Select(v => v.ToString()).ToArray();

            var predict = CliRunner.Run("predict", "--model", zip, "--json", paths[0], paths[1]);
            Assert.AreEqual(0, predict.ExitCode, predict.ToString());
            using (var json = JsonDocument.Parse(predict.Out))
            {
                var rows = json.RootElement.EnumerateArray().ToList();
                Assert.HasCount(2, rows, predict.Out);
                for (var k = 0; k < 2; k++)
                {
                    var probabilities = rows[k].GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray();
                    Assert.HasCount(direct[k].Length, probabilities);
                    for (var c = 0; c < probabilities.Length; c++)
                        Assert.AreEqual(direct[k][c], probabilities[c], 1e-5f, $"image {k}, class {c}: the CLI scores the PNG like ML.NET scores its pixels\n{predict}");
                    var best = Array.IndexOf(direct[k], direct[k].Max());
                    Assert.AreEqual(classNames[best], rows[k].GetProperty("label").GetString());
                }
            }

            var evaluate = CliRunner.Run("evaluate", "--model", zip, "--data", Path.Combine(root, "images"), "--json", "-");
            Assert.AreEqual(0, evaluate.ExitCode, evaluate.ToString());
            // (the console wraps long lines)
            Assert.Contains("input 'Pixels': 1×8×8 luminance values, raw 0..255", string.Join(' ', evaluate.Out.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)),
                "the header says what the model is fed");
            var metrics = JsonDocument.Parse(evaluate.Out[evaluate.Out.IndexOf('{')..]).RootElement;
            var correct = held.Where((r, k) => classNames[Array.IndexOf(direct[k], direct[k].Max())] == r.Class).Count();
            Assert.AreEqual(held.Count, metrics.GetProperty("Count").GetInt32());
            Assert.AreEqual(correct, metrics.GetProperty("Correct").GetInt32(), "evaluate counts what ML.NET's own scores get right\n" + evaluate);

            // Something the CLI needs is missing (here: the saved input schema lacks the ONNX input column): the error says what.
            var withoutPixels = Path.Combine(root, "no-pixels.zip");
            ml.Model.Save(model, ml.Data.LoadFromEnumerable(new[] { new ClassOnly() }).Schema, withoutPixels);
            var refused = CliRunner.Run("predict", "--model", withoutPixels, paths[0]);
            Assert.AreEqual(2, refused.ExitCode, refused.ToString());
            StringAssert.Contains(refused.Error, "a model whose saved input schema has no column 'Pixels' (the ONNX input); its input columns are Class (String)", refused.ToString());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
