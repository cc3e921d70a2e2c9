using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse.Engine.Data;

namespace Microsoft.ML.HyperSparse;

/// <summary>The feature column's image shape and the label's key count, checked against the schema.</summary>
internal sealed record ColumnContract(string FeatureColumn, string LabelColumn, int Channels, int Height, int Width, int ClassCount, string[] LabelNames)
{
    public int ImageSize => Channels * Height * Width;

    /// <summary>Validates the schema against the options: column presence and types, image shape, key label.</summary>
    public static ColumnContract From(DataViewSchema schema, HyperSparseClassificationTrainer.Options options)
    {
        var feature = schema.GetColumnOrNull(options.FeatureColumnName)
            ?? throw Errors.MissingColumn("Feature", options.FeatureColumnName, schema.Select(c => c.Name));
        var label = schema.GetColumnOrNull(options.LabelColumnName)
            ?? throw Errors.MissingColumn("Label", options.LabelColumnName, schema.Select(c => c.Name));
        if (feature.Type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single)
            throw Errors.SchemaMismatch("Feature", feature.Name, "a vector of Single (e.g. from ExtractPixels)", feature.Type.ToString() ?? "?");
        int c, h, w;
        if (vector.Dimensions.Length == 3 && vector.Dimensions.All(d => d > 0))
        {
            (c, h, w) = (vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2]);
        }
        else
        {
            if (options.ImageChannels is null || options.ImageHeight is null || options.ImageWidth is null)
                throw Errors.SchemaMismatch("Feature", feature.Name,
                    "Vector<Single, C, H, W> (ExtractPixels) or a flat vector together with the options ImageChannels, ImageHeight and ImageWidth",
                    vector.ToString());
            (c, h, w) = (options.ImageChannels.Value, options.ImageHeight.Value, options.ImageWidth.Value);
            if (vector.Size != c * h * w)
                throw Errors.SchemaMismatch("Feature", feature.Name,
                    $"a vector of {c}×{h}×{w} = {c * h * w} values (ImageChannels × ImageHeight × ImageWidth)",
                    vector.Size == 0 ? "a vector of unknown size" : $"a vector of {vector.Size} values");
        }
        if (label.Type is not KeyDataViewType key)
            throw Errors.SchemaMismatch("Label", label.Name, "a key type (use MapValueToKey)", label.Type.ToString() ?? "?");
        if (key.Count < 2 || key.Count > int.MaxValue)
            throw Errors.SchemaMismatch("Label", label.Name, "a key type with 2 or more classes", $"{key.Count} classes");
        return new ColumnContract(feature.Name, label.Name, c, h, w, (int)key.Count, LabelNamesOf(label, (int)key.Count));
    }

    /// <summary>The label's key values as text (the class names), or "0", "1", … when it has none.</summary>
    private static string[] LabelNamesOf(DataViewSchema.Column label, int count)
    {
        var names = Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var keyValues = label.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (keyValues is null) return names;
        if (keyValues.Value.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> buffer = default;
            label.GetKeyValues(ref buffer);
            var dense = buffer.DenseValues().ToArray();
            for (var i = 0; i < Math.Min(count, dense.Length); i++) names[i] = dense[i].ToString();
        }
        // Non-text key values (e.g. numeric labels) keep the index names: PredictedLabel still gets the label's key type.
        return names;
    }

    /// <summary>
    /// Reads every row into an in-memory dataset, one reused buffer per row (no per-row tensors). Rows with a missing
    /// label are an error, as are NaN/∞ features: nothing is dropped silently.
    /// </summary>
    public ImageDataset Read(IDataView data, string role, CancellationToken cancellation)
    {
        var feature = data.Schema[FeatureColumn];
        var label = data.Schema[LabelColumn];
        var pixels = new List<float[]>();
        var chunk = new float[Math.Max(ImageSize, 1) * 256];
        var used = 0;
        var labels = new List<int>();
        using (var cursor = data.GetRowCursor(new[] { feature, label }))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(feature);
            var getLabel = cursor.GetGetter<uint>(label);
            VBuffer<float> buffer = default;
            uint key = 0;
            long row = 0;
            while (cursor.MoveNext())
            {
                if ((row & 255) == 0) cancellation.ThrowIfCancellationRequested();
                getFeatures(ref buffer);
                getLabel(ref key);
                if (buffer.Length != ImageSize)
                    throw Errors.Data($"{role} row {row}: feature column '{FeatureColumn}' has {buffer.Length} values; expected {ImageSize} ({Channels}×{Height}×{Width}).");
                if (key == 0 || key > ClassCount)
                    throw Errors.Data($"{role} row {row}: label column '{LabelColumn}' is missing (key 0) or outside 1..{ClassCount}; found {key}. Filter such rows out first.");
                if (used + ImageSize > chunk.Length)
                {
                    pixels.Add(chunk);
                    chunk = new float[chunk.Length];
                    used = 0;
                }
                var target = chunk.AsSpan(used, ImageSize);
                buffer.CopyTo(target);
                foreach (var v in target)
                    if (!float.IsFinite(v))
                        throw Errors.Data($"{role} row {row}: feature column '{FeatureColumn}' contains {v}; features must be finite numbers.");
                used += ImageSize;
                labels.Add((int)key - 1);
                row++;
            }
        }
        pixels.Add(chunk[..used]);
        if (labels.Count == 0) throw Errors.Data($"The {role.ToLowerInvariant()} data has no rows.");
        var all = new float[(long)labels.Count * ImageSize];
        long offset = 0;
        foreach (var part in pixels) { part.CopyTo(all, offset); offset += part.Length; }
        return new ImageDataset(all, labels.ToArray(), Channels, Height, Width, ClassCount);
    }
}
