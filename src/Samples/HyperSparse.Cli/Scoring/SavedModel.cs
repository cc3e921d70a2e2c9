using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;
using HyperSparse.Cli.Data;

namespace HyperSparse.Cli.Scoring;

/// <summary>
/// A model.zip loaded with ML.NET (Microsoft.ML + ImageAnalytics + OnnxTransformer only). Scoring reads only the
/// <c>Score</c> column (class probabilities); class names come from the model's own annotations — Score's SlotNames,
/// else PredictedLabel's KeyValues (slot i of Score is key i+1) — and only then from report.json beside the model.
/// So it works whether PredictedLabel is a scalar key or a one-element key vector.
/// </summary>
internal sealed class SavedModel
{
    private SavedModel(MLContext ml, ITransformer model, DataViewSchema inputSchema, string path, string command, string option)
    {
        Context = ml;
        Model = model;
        InputSchema = inputSchema;
        Path = path;
        // The image-path column is the input's text column; the image column is what the chain's LoadImages adds.
        ImagePathColumn = inputSchema.FirstOrDefault(c => c.Type is TextDataViewType).Name ?? "ImagePath";
        var loader = (model as IEnumerable<ITransformer>)?.OfType<ImageLoadingTransformer>().FirstOrDefault();
        if (loader is not null)
            ImageColumn = loader.GetOutputSchema(inputSchema).FirstOrDefault(c => c.Type is ImageDataViewType && inputSchema.GetColumnOrNull(c.Name) is null).Name;
        var expected = $"{command}: option {option}: expected a model.zip written by 'hypersparse train' (an ML.NET chain LoadImages → … → " +
                       $"HyperSparseClassification with a text input column of image paths and a Score output), found '{path}'";
        string Inputs() => string.Join(", ", inputSchema.Select(c => $"{c.Name} ({c.Type})"));
        if (loader is null && Chain(model).OfType<OnnxTransformer>().Any())
        {
            // Trained through the C# API on a flat pixel vector: the model itself says what to feed (or what it lacks).
            Pixels = PixelInput.FromModel(path, inputSchema, $"{command}: option {option}: expected a model.zip of Microsoft.ML.HyperSparse " +
                $"(LoadImages → … → HyperSparseClassification, or HyperSparseClassification on a pixel vector), found '{path}'");
        }
        else if (loader is null || ImageColumn is null || !inputSchema.Any(c => c.Type is TextDataViewType))
            throw new UsageException($"{expected}, an ML.NET model that does not load images from a path: its input columns are {(inputSchema.Count == 0 ? "none" : Inputs())}" +
                $" and its transformers {Transformers(model)}.");
        DataViewSchema output;
        try
        {
            output = model.GetOutputSchema(inputSchema);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw new UsageException($"{expected}, a model whose chain does not fit together: {ex.Message}");
        }
        ScoreColumn = output.GetColumnOrNull("Score")
            ?? throw new UsageException($"{expected}, a model with no Score column; its output columns are {string.Join(", ", output.Select(c => c.Name))}.");
        if (ScoreColumn.Type is not VectorDataViewType { ItemType: NumberDataViewType, Size: >= 2 } scoreType)
            throw new UsageException($"{expected}, a model whose Score column is {ScoreColumn.Type}: expected a vector of at least 2 class probabilities.");
        (ClassNames, ClassNameSource) = ResolveClassNames(output, path);
        if (ClassNames.Length != scoreType.Size)
            throw new UsageException($"{expected}, a model with {scoreType.Size} scores but {ClassNames.Length} class names ({ClassNameSource}).");
    }

    public MLContext Context { get; }
    public ITransformer Model { get; }
    public DataViewSchema InputSchema { get; }
    public string Path { get; }
    public string ImagePathColumn { get; }
    public string? ImageColumn { get; }
    public DataViewSchema.Column ScoreColumn { get; }
    public string[] ClassNames { get; }
    public string ClassNameSource { get; }

    /// <summary>For a model that takes a pixel vector instead of loading images: what to feed it; null for a LoadImages model.</summary>
    public PixelInput? Pixels { get; }

    public static SavedModel Load(string command, string option, string path)
    {
        if (!File.Exists(path))
            throw new UsageException($"{command}: option {option}: expected a model.zip written by 'hypersparse train' (or Model.Save), found '{path}', which does not exist.");
        var ml = new MLContext();
        ITransformer model;
        DataViewSchema schema;
        try
        {
            model = ml.Model.Load(path, out schema);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // ML.NET loads transformers by reflection: the reason is inside TargetInvocationException ("Exception has been thrown
            // by the target of an invocation"), often two levels down.
            throw new UsageException($"{command}: option {option}: expected an ML.NET model.zip, found '{path}', which does not load: {Innermost(ex)}");
        }
        return new SavedModel(ml, model, schema, System.IO.Path.GetFullPath(path), command, option);
    }

    /// <summary>The messages of an exception chain without reflection's wrappers, outermost first.</summary>
    internal static string Innermost(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
            if (e is not System.Reflection.TargetInvocationException && !messages.Contains(e.Message)) messages.Add(e.Message);
        return messages.Count == 0 ? ex.Message : string.Join(" → ", messages);
    }

    private static string Transformers(ITransformer model) => model is IEnumerable<ITransformer> chain
        ? string.Join(" → ", chain.Select(t => t.GetType().Name))
        : model.GetType().Name;

    /// <summary>The transformers of a chain (one for a single transformer), nested chains flattened.</summary>
    private static IEnumerable<ITransformer> Chain(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Chain) : new[] { model };

    /// <summary>Scores image files: a view with the model's image-path column (and LabelText).</summary>
    public IDataView ScoreFiles(IDataView rows) =>
        Pixels is null ? Model.Transform(rows) : ScorePixels(PixelRows(rows, Views.ImagePath, path => Pixels.Read((string)path)));

    /// <summary>Scores in-memory images (a view with the model's image column): the chain without its image loader.</summary>
    public IDataView ScoreImages(IDataView rows)
    {
        if (Pixels is not null) return ScorePixels(PixelRows(rows, Views.Image, image => Pixels.FromImage((MLImage)image)));
        if (ImageColumn is null || Model is not IEnumerable<ITransformer> chain)
            throw new InvalidOperationException("This model does not start with LoadImages, so it cannot score in-memory images.");
        var view = rows;
        foreach (var t in chain.Where(t => t is not ImageLoadingTransformer)) view = t.Transform(view);
        return view;
    }

    /// <summary>
    /// A pixel-vector model scored from its ONNX transformer on: what comes before it in a user's chain prepares the label
    /// (e.g. MapValueToKey of a class column), which image files do not have; the class names come from the prediction
    /// transformer's own annotations.
    /// </summary>
    private IDataView ScorePixels(IDataView pixels)
    {
        var view = pixels;
        foreach (var t in Chain(Model).SkipWhile(t => t is not OnnxTransformer)) view = t.Transform(view);
        return view;
    }

    /// <summary>One row of a pixel-vector model's input: the vector (renamed to the model's column) and the label text.</summary>
    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
        public string LabelText { get; set; } = "";
    }

    /// <summary>
    /// The rows' images (column <paramref name="source"/>, a path or an MLImage) as the model's pixel vectors, with their
    /// LabelText, in row order: a view whose vector column has the model's name and its fixed size (C·H·W), as its ONNX
    /// input needs.
    /// </summary>
    private IDataView PixelRows(IDataView rows, string source, Func<object, float[]> toPixels)
    {
        var values = source == Views.Image
            ? rows.GetColumn<MLImage>(source).Cast<object>().ToList()
            : rows.GetColumn<string>(source).Cast<object>().ToList();
        var labels = rows.Schema.GetColumnOrNull(Views.LabelText) is null ? null : rows.GetColumn<string>(Views.LabelText).ToList();
        var list = values.Select((v, i) => new PixelRow { Pixels = toPixels(v), LabelText = labels?[i] ?? "" }).ToList();
        var schema = SchemaDefinition.Create(typeof(PixelRow));
        schema[nameof(PixelRow.Pixels)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Pixels!.Size);
        schema[nameof(PixelRow.Pixels)].ColumnName = Pixels.Column;
        return Context.Data.LoadFromEnumerable(list, schema);
    }

    /// <summary>The Score vectors of a scored view, in row order, checked against the class count.</summary>
    public List<float[]> Scores(IDataView scored)
    {
        var scores = scored.GetColumn<float[]>(ScoreColumn.Name).ToList();
        for (var row = 0; row < scores.Count; row++)
        {
            var s = scores[row];
            if (s.Length != ClassNames.Length)
                throw new InvalidOperationException($"The model's Score has {s.Length} values but {ClassNames.Length} class names were found ({ClassNameSource}).");
            // A model whose weights are not finite (e.g. saved by an older version from a diverged run) scores NaN: say so
            // instead of printing NaN probabilities with success.
            if (s.Any(p => !float.IsFinite(p)))
                throw new UsageException($"The model '{Path}' is broken: expected finite class probabilities, found {string.Join(", ", s.Take(4).Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)))}" +
                    $"{(s.Length > 4 ? ", …" : "")} for input row {row + 1}. Its weights are not finite (a diverged training run); train it again with a lower --lr or λ.");
        }
        return scores;
    }

    private (string[] Names, string Source) ResolveClassNames(DataViewSchema output, string path)
    {
        if (TextAnnotation(output["Score"], "SlotNames") is { Length: > 0 } slots) return (slots, "Score SlotNames annotation");
        if (output.GetColumnOrNull("PredictedLabel") is { } predicted && TextAnnotation(predicted, "KeyValues") is { Length: > 0 } keys)
            return (keys, "PredictedLabel KeyValues annotation");
        var report = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, "report.json");
        if (File.Exists(report) && JsonNode.Parse(File.ReadAllText(report))?["training"]?["ClassNames"] is JsonArray names)
            return (names.Select(n => (string?)n ?? "").ToArray(), "report.json");
        var size = (output["Score"].Type as VectorDataViewType)?.Size ?? 0;
        return (Enumerable.Range(0, size).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), "score indices (no names found)");
    }

    private static string[]? TextAnnotation(DataViewSchema.Column column, string kind)
    {
        var annotation = column.Annotations.Schema.GetColumnOrNull(kind);
        if (annotation is not { Type: VectorDataViewType { ItemType: TextDataViewType } }) return null;
        VBuffer<ReadOnlyMemory<char>> buffer = default;
        column.Annotations.GetValue(kind, ref buffer);
        return buffer.DenseValues().Select(v => v.ToString()).ToArray();
    }
}
