using System.Collections.Concurrent;
using HyperSparse.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace ScoringSample;

/// <summary>What the model reads: the path of one image file.</summary>
public sealed class ImageInput
{
    /// <summary>Path of a PNG/JPEG/BMP image.</summary>
    public string ImagePath { get; set; } = "";
}

/// <summary>What the model adds: class probabilities and the predicted class (a key of the training label).</summary>
public sealed class ModelOutput
{
    /// <summary>Class probabilities, in the order of <see cref="ImageScorer.ClassNames"/>.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();

    /// <summary>1-based key of the predicted class (0 = missing).</summary>
    public uint PredictedLabel { get; set; }
}

/// <summary>One scored image.</summary>
/// <param name="ImagePath">The scored file.</param>
/// <param name="Label">The predicted class name.</param>
/// <param name="Probability">Its probability.</param>
/// <param name="Top">The three most likely classes with their probabilities, best first.</param>
public sealed record ImagePrediction(string ImagePath, string Label, float Probability, IReadOnlyList<(string Label, float Probability)> Top)
{
    /// <summary>Every class's probability, in the order of <see cref="ImageScorer.ClassNames"/>.</summary>
    public IReadOnlyList<float> Scores { get; init; } = Array.Empty<float>();
}

/// <summary>
/// Loads a model.zip saved by HyperSparse (or any ML.NET image classifier with ImagePath input) and scores images from any
/// number of threads. A <see cref="PredictionEngine{TSrc,TDst}"/> is not thread-safe, so engines are pooled: each call
/// borrows one, and the pool grows to the number of concurrent callers. The loaded <see cref="ITransformer"/> is shared.
/// </summary>
/// <remarks>
/// ML.NET's <c>LoadImages</c> decodes a file at its full size with no limit of its own, so a 400 KB PNG claiming
/// 20000×20000 pixels would cost 1.6 GB. Every image therefore passes the shared header-first gate (<c>ImageGate</c>,
/// also used by the CLI) before ML.NET sees it: a header whose width × height exceeds <see cref="MaxImagePixels"/> is
/// refused without decoding a pixel.
/// </remarks>
public sealed class ImageScorer : IDisposable
{
    private readonly MLContext context = new();
    private readonly ITransformer model;
    private readonly ConcurrentBag<PredictionEngine<ImageInput, ModelOutput>> pool = new();
    private int created;

    /// <summary>
    /// Loads <paramref name="modelPath"/>; throws <see cref="FileNotFoundException"/> when it does not exist and
    /// <see cref="InvalidDataException"/> (naming the file) when it is not a loadable image-classification model.
    /// </summary>
    /// <param name="modelPath">The model.zip to load.</param>
    /// <param name="maxImagePixels">The largest width × height an image may claim; default 67,108,864 (8192 × 8192,
    /// 256 MiB decoded), allowed 1 to 536,870,897 (a decoded image must fit in one .NET array).</param>
    public ImageScorer(string modelPath, long maxImagePixels = ImageGate.DefaultMaxPixels)
    {
        if (ImageGate.CheckLimit(maxImagePixels) is { } expected)
            throw new ArgumentOutOfRangeException(nameof(maxImagePixels), maxImagePixels,
                $"{nameof(maxImagePixels)} must be {expected}; found {maxImagePixels}.");
        MaxImagePixels = maxImagePixels;
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"Model file '{Path.GetFullPath(modelPath)}' does not exist.", modelPath);
        DataViewSchema inputSchema;
        try
        {
            model = context.Model.Load(modelPath, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Model file '{Path.GetFullPath(modelPath)}' is not a loadable ML.NET model (truncated or not a model.zip?): {e.Message}", e);
        }
        if (inputSchema.GetColumnOrNull(nameof(ImageInput.ImagePath)) is not { } column || column.Type is not TextDataViewType)
            throw new InvalidDataException($"Model '{modelPath}' must read a text column '{nameof(ImageInput.ImagePath)}'; its input columns are: " +
                string.Join(", ", inputSchema.Select(c => $"{c.Name} ({c.Type})")) + ".");
        var output = model.GetOutputSchema(inputSchema);
        VBuffer<ReadOnlyMemory<char>> names = default;
        var predicted = output.GetColumnOrNull(nameof(ModelOutput.PredictedLabel))
            ?? throw new InvalidDataException($"Model '{modelPath}' has no '{nameof(ModelOutput.PredictedLabel)}' output column.");
        predicted.GetKeyValues(ref names);
        ClassNames = names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    /// <summary>Class names in key order (the label's key values).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The largest width × height an image may claim; larger images are refused before they are decoded.</summary>
    public long MaxImagePixels { get; }

    /// <summary>How many prediction engines the pool has created so far (≤ the peak number of concurrent callers).</summary>
    public int EnginesCreated => Volatile.Read(ref created);

    /// <summary>
    /// Scores one image; safe to call from many threads at once. Throws <see cref="FileNotFoundException"/> when the file
    /// does not exist and <see cref="InvalidDataException"/> naming it when it is not an image (empty, text, unknown
    /// format, not a regular file) or claims more than <see cref="MaxImagePixels"/> pixels — both found from the header,
    /// before anything is decoded. ML.NET decodes a truncated PNG without an error (the missing rows are black).
    /// </summary>
    public ImagePrediction Score(string imagePath)
    {
        if (!File.Exists(imagePath))
            throw new FileNotFoundException($"Image '{Path.GetFullPath(imagePath)}' does not exist.", imagePath);
        if (ImageGate.Admit(imagePath, MaxImagePixels, out _) is { } refused)
            throw new InvalidDataException($"Image '{Path.GetFullPath(imagePath)}' was refused before decoding: {refused}.");
        if (!pool.TryTake(out var engine))
        {
            engine = context.Model.CreatePredictionEngine<ImageInput, ModelOutput>(model);
            Interlocked.Increment(ref created);
        }
        try
        {
            ModelOutput output;
            try
            {
                output = engine.Predict(new ImageInput { ImagePath = imagePath });
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                // ML.NET's message ("Invalid input stream contents (Parameter 'imageStream')") does not say which file.
                throw new InvalidDataException($"Image '{Path.GetFullPath(imagePath)}' could not be loaded: {e.Message}", e);
            }
            var top = output.Score.Select((p, i) => (Label: ClassNames[i], Probability: p))
                .OrderByDescending(t => t.Probability).Take(3).ToList();
            var label = output.PredictedLabel >= 1 && output.PredictedLabel <= ClassNames.Count ? ClassNames[(int)output.PredictedLabel - 1] : "?";
            return new ImagePrediction(imagePath, label, output.Score[(int)output.PredictedLabel - 1], top) { Scores = output.Score };
        }
        finally
        {
            pool.Add(engine);
        }
    }

    /// <summary>Disposes the pooled engines.</summary>
    public void Dispose()
    {
        while (pool.TryTake(out var engine)) engine.Dispose();
    }
}
