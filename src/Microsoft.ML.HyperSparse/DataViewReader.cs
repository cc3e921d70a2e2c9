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
            throw Errors.SchemaMismatch("Feature", feature.Name, "a vector of Single (e.g. from ExtractPixels with outputAsFloatArray: true)", feature.Type.ToString() ?? "?");
        int c, h, w;
        if (vector.Dimensions.Length == 3 && vector.Dimensions.All(d => d > 0))
        {
            (c, h, w) = (vector.Dimensions[0], vector.Dimensions[1], vector.Dimensions[2]);
        }
        else
        {
            var unset = new[] { ("ImageChannels", options.ImageChannels), ("ImageHeight", options.ImageHeight), ("ImageWidth", options.ImageWidth) }
                .Where(o => o.Item2 is null).Select(o => o.Item1).ToArray();
            if (unset.Length > 0)
                throw Errors.SchemaMismatch("Feature", feature.Name,
                    "Vector<Single, C, H, W> (ExtractPixels) or a flat vector together with the options ImageChannels, ImageHeight and ImageWidth",
                    $"{Describe(vector)} with {string.Join(", ", unset)} not set");
            (c, h, w) = (options.ImageChannels!.Value, options.ImageHeight!.Value, options.ImageWidth!.Value);
            if (vector.Size != (long)c * h * w)
                throw Errors.SchemaMismatch("Feature", feature.Name,
                    $"a vector of {(long)c * h * w} values (ImageChannels {c} × ImageHeight {h} × ImageWidth {w})",
                    Describe(vector));
        }
        if (label.Type is not KeyDataViewType key)
            throw Errors.SchemaMismatch("Label", label.Name, "a key type (use MapValueToKey)", label.Type.ToString() ?? "?");
        if (key.Count < 2 || key.Count > int.MaxValue)
            throw Errors.SchemaMismatch("Label", label.Name, "a key type with at least 2 classes",
                $"{key} with {key.Count} class{(key.Count == 1 ? "" : "es")}");
        return new ColumnContract(feature.Name, label.Name, c, h, w, (int)key.Count, LabelNamesOf(label, (int)key.Count));
    }

    private static string Describe(VectorDataViewType vector) =>
        vector.Size == 0 ? $"a vector of unknown size ({vector})" : $"a vector of {vector.Size} values ({vector})";

    /// <summary>Checks the validation set's own schema against the options (no training data needed).</summary>
    public static ColumnContract ForValidationSet(DataViewSchema schema, HyperSparseClassificationTrainer.Options options)
    {
        try
        {
            return From(schema, options);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw Errors.ValidationSet(Errors.MessageOf(ex));
        }
    }

    /// <summary>Checks that the validation set holds the training data's image shape and the same label keys.</summary>
    public void CheckValidationSet(ColumnContract validation)
    {
        if ((validation.Channels, validation.Height, validation.Width) != (Channels, Height, Width))
            throw Errors.ValidationSet(
                $"Schema mismatch for feature column '{validation.FeatureColumn}': expected {Channels}×{Height}×{Width} images like the training data, " +
                $"got {validation.Channels}×{validation.Height}×{validation.Width}.");
        if (!validation.LabelNames.SequenceEqual(LabelNames))
            throw Errors.ValidationSet(
                $"Schema mismatch for label column '{validation.LabelColumn}': expected the training label's {ClassCount} key values {ShowKeys(LabelNames)}, " +
                $"got {validation.ClassCount} {ShowKeys(validation.LabelNames)}. Map both with the same MapValueToKey transformer (fitted on the training data).");
    }

    private static string ShowKeys(string[] names) =>
        "[" + string.Join(", ", names.Take(10)) + (names.Length > 10 ? ", …" : "") + "]";

    /// <summary>Training needs at least two classes that actually occur (checked before the first epoch).</summary>
    public void CheckClassesPresent(ImageDataset train)
    {
        var counts = train.ClassCounts();
        var present = Enumerable.Range(0, counts.Length).Where(i => counts[i] > 0).ToArray();
        if (present.Length < 2)
            throw Errors.Data(
                $"Label column '{LabelColumn}' has {present.Length} class present in the training data " +
                $"({string.Join(", ", present.Select(i => $"'{LabelNames[i]}'"))} in all {train.Count} rows); expected at least 2 of its {ClassCount} key values.");
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
            var getLabel = KeyGetter(cursor, label);
            VBuffer<float> buffer = default;
            uint key = 0;
            long row = 0;
            while (true)
            {
                try
                {
                    if (!cursor.MoveNext()) break;
                    getFeatures(ref buffer);
                    getLabel(ref key);
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
                {
                    // Something upstream (LoadImages on a bad file, a custom mapping) failed: name the row and its text columns.
                    throw UnreadableRow(data, role, row, ex);
                }
                if ((row & 255) == 0) cancellation.ThrowIfCancellationRequested();
                if (buffer.Length != ImageSize)
                    throw Errors.Data($"{role} row {row}: feature column '{FeatureColumn}' has {buffer.Length} values; expected {ImageSize} ({Channels}×{Height}×{Width}).");
                if (key == 0 || key > ClassCount)
                    throw Errors.Data($"{role} row {row}: label column '{LabelColumn}' must hold a key in 1..{ClassCount}; found {key}{(key == 0 ? " (key 0 is a missing value, e.g. a label MapValueToKey did not know)" : "")}. Filter such rows out first.");
                if (used + ImageSize > chunk.Length)
                {
                    pixels.Add(chunk);
                    chunk = new float[chunk.Length];
                    used = 0;
                }
                var target = chunk.AsSpan(used, ImageSize);
                buffer.CopyTo(target);
                for (var i = 0; i < target.Length; i++)
                    if (!float.IsFinite(target[i]))
                        throw Errors.Data($"{role} row {row}: feature column '{FeatureColumn}' has {Errors.Show(target[i])} at index {i}; expected finite numbers. " +
                            "Replace or filter such values before training (e.g. ReplaceMissingValues).");
                used += ImageSize;
                labels.Add((int)key - 1);
                row++;
            }
        }
        pixels.Add(chunk[..used]);
        if (labels.Count == 0)
            throw Errors.Data($"The {role.ToLowerInvariant()} data has no rows: expected at least 1 row with feature column '{FeatureColumn}' and label column '{LabelColumn}', found 0.");
        var all = new float[(long)labels.Count * ImageSize];
        long offset = 0;
        foreach (var part in pixels) { part.CopyTo(all, offset); offset += part.Length; }
        return new ImageDataset(all, labels.ToArray(), Channels, Height, Width, ClassCount);
    }

    /// <summary>
    /// The error for a row the pipeline could not produce. ML.NET reads ahead on several threads, so the row that failed may
    /// lie past <paramref name="rowsRead"/>: one sequential cursor finds it and reads its text columns (for a LoadImages
    /// pipeline, the image path), so the message names the file. Falls back to the original error when that fails too.
    /// </summary>
    private Exception UnreadableRow(IDataView data, string role, long rowsRead, Exception error)
    {
        var feature = data.Schema[FeatureColumn];
        var text = data.Schema.Where(c => !c.IsHidden && c.Type is TextDataViewType).ToList();
        try
        {
            using var cursor = data.GetRowCursorSet(text.Append(feature), 1)[0];
            var getFeatures = cursor.GetGetter<VBuffer<float>>(feature);
            var getText = text.Select(c => (c.Name, Get: cursor.GetGetter<ReadOnlyMemory<char>>(c))).ToList();
            VBuffer<float> buffer = default;
            ReadOnlyMemory<char> value = default;
            for (long row = 0; cursor.MoveNext(); row++)
            {
                var values = getText.Select(g => { g.Get(ref value); return $"{g.Name} = '{value}'"; }).ToList();
                try
                {
                    getFeatures(ref buffer);
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
                {
                    return new InvalidOperationException(
                        $"{role} row {row}{(values.Count > 0 ? " (" + string.Join(", ", values) + ")" : "")} could not be read into feature column '{FeatureColumn}': " +
                        $"{Innermost(ex)}. Fix or remove that input, or filter the row out before Fit.", ex);
                }
            }
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
        {
            // Searching failed as well: report what is known.
        }
        return new InvalidOperationException(
            $"{role} data could not be read after row {rowsRead} (feature column '{FeatureColumn}'): {Innermost(error)}.", error);
    }

    /// <summary>The messages of an exception chain, outermost first, without repeats (ML.NET wraps the cause).</summary>
    private static string Innermost(Exception ex)
    {
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
            if (!messages.Contains(e.Message)) messages.Add(e.Message);
        return string.Join(" → ", messages).TrimEnd('.');
    }

    /// <summary>A key getter for any of ML.NET's key raw types (MapValueToKey gives UInt32; KeyType attributes allow others).</summary>
    private static ValueGetter<uint> KeyGetter(DataViewRowCursor cursor, DataViewSchema.Column label)
    {
        switch (((KeyDataViewType)label.Type).RawType)
        {
            case var t when t == typeof(byte):
            {
                var get = cursor.GetGetter<byte>(label);
                byte v = 0;
                return (ref uint key) => { get(ref v); key = v; };
            }
            case var t when t == typeof(ushort):
            {
                var get = cursor.GetGetter<ushort>(label);
                ushort v = 0;
                return (ref uint key) => { get(ref v); key = v; };
            }
            case var t when t == typeof(ulong):
            {
                // Count ≤ int.MaxValue was checked, so a larger value is out of range anyway: clamp so it is reported as such.
                var get = cursor.GetGetter<ulong>(label);
                ulong v = 0;
                return (ref uint key) => { get(ref v); key = (uint)Math.Min(v, uint.MaxValue); };
            }
            default:
                return cursor.GetGetter<uint>(label);
        }
    }
}
