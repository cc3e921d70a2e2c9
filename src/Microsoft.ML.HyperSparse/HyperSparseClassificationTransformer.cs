using Microsoft.ML.Data;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// The result of <see cref="HyperSparseClassificationTrainer.Fit"/>: scores images with the pruned network's ONNX model on
/// ONNX Runtime and adds <c>Score</c> and <c>PredictedLabel</c>. Saving with <c>MLContext.Model.Save</c> stores ML.NET's own
/// ONNX scoring chain (with the ONNX bytes inside), so the saved model loads and scores with Microsoft.ML and
/// Microsoft.ML.OnnxTransformer alone; it loads back as that chain, not as this type.
/// </summary>
public sealed class HyperSparseClassificationTransformer : ITransformer
{
    private readonly ITransformer scorer;
    private readonly byte[] onnx;

    internal HyperSparseClassificationTransformer(ITransformer scorer, byte[] onnx, HyperSparseTrainingReport report)
    {
        this.scorer = scorer;
        this.onnx = onnx;
        Report = report;
    }

    /// <summary>What training did and reached: epochs per phase, λ, accuracies, sparsity per layer, model sizes.</summary>
    public HyperSparseTrainingReport Report { get; }

    /// <summary>The exported ONNX model (standard ONNX, IR 8, opset 17) as bytes.</summary>
    public ReadOnlyMemory<byte> OnnxModel => onnx;

    /// <summary>
    /// The ML.NET transformer chain that does the scoring: ONNX Runtime computes the logits, ML.NET's multiclass prediction
    /// transformer (an identity linear model) turns them into Score and PredictedLabel.
    /// </summary>
    public ITransformer Scorer => scorer;

    /// <summary>Writes the ONNX model to a stream.</summary>
    public void SaveOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(onnx);
    }

    /// <summary>
    /// Writes the ONNX model to a file through a temporary file in the same folder, flushed to disk and then renamed, so a
    /// failure or a crash never leaves a partial file at <paramref name="path"/>.
    /// </summary>
    public void SaveOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Cannot save the ONNX model to '{full}': the folder '{directory}' does not exist.");
        var temp = Path.Combine(directory, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(onnx);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => scorer.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => scorer.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => scorer.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => scorer.Transform(input);

    /// <summary>Saves the inner ONNX scoring chain (a third-party transformer cannot register its own loader in ML.NET 5 or 6).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)scorer).Save(ctx);
}
