using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// Builds the ML.NET chain that scores an exported model: ONNX Runtime computes the logits, then ML.NET's own multiclass
/// prediction transformer over an identity linear model turns them into <c>Score</c> (softmax of the logits) and
/// <c>PredictedLabel</c> (arg-max, a scalar of the label's key type with its key values).
/// </summary>
/// <remarks>
/// Why not compute the arg-max in ONNX: ML.NET's ONNX transformer turns a [batch] output into a one-element vector and
/// fails on a rank-0 one, and no public ML.NET transform turns a one-element vector into a scalar key. ML.NET's
/// <c>MulticlassPredictionTransformer</c> over <c>MaximumEntropyModelParameters</c> does exactly what is wanted and is
/// saved and loaded by ML.NET itself, so a saved model still needs only Microsoft.ML and Microsoft.ML.OnnxTransformer.
/// Both types are public but their constructors are not; they are reached by reflection, checked once
/// (<see cref="EnsureAvailable"/>) before any training starts so an incompatible ML.NET fails fast; an ML.NET newer than
/// the one this was tested with is refused there too (<see cref="MLNetVersion"/>), since its constructors may match by
/// signature and still behave differently.
/// </remarks>
internal static class ScoringChain
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;

    private static readonly Lazy<(ConstructorInfo? Model, ConstructorInfo? Transformer)> Constructors = new(() =>
    (
        typeof(MaximumEntropyModelParameters).GetConstructors(Instance).FirstOrDefault(c => c.GetParameters() is var p
            && p.Length == 7 && p[0].ParameterType == typeof(IHostEnvironment) && p[1].ParameterType == typeof(VBuffer<float>[])
            && p[2].ParameterType == typeof(float[]) && p[3].ParameterType == typeof(int) && p[4].ParameterType == typeof(int)
            && p[5].ParameterType == typeof(string[])),
        typeof(MulticlassPredictionTransformer<MaximumEntropyModelParameters>).GetConstructors(Instance).FirstOrDefault(c => c.GetParameters() is var p
            && p.Length == 7 && p[0].ParameterType == typeof(IHostEnvironment) && p[1].ParameterType == typeof(MaximumEntropyModelParameters)
            && p[2].ParameterType == typeof(DataViewSchema) && p.Skip(3).All(q => q.ParameterType == typeof(string)))
    ));

    /// <summary>Throws when the loaded ML.NET lacks the members the scoring chain needs (checked before training).</summary>
    public static void EnsureAvailable()
    {
        MLNetVersion.EnsureSupported();
        var (model, transformer) = Constructors.Value;
        if (model is null || transformer is null)
            throw new InvalidOperationException(
                $"HyperSparse builds its scoring chain with ML.NET's multiclass prediction transformer; the loaded Microsoft.ML " +
                $"{MLNetVersion.Loaded()?.ToString() ?? "(version unknown)"} does not have the expected constructor of " +
                $"{(model is null ? nameof(MaximumEntropyModelParameters) : "MulticlassPredictionTransformer")}. Use Microsoft.ML " +
                $"{MLNetVersion.TestedUpTo.Major}.{MLNetVersion.TestedUpTo.Minor}.x.");
    }

    /// <summary>
    /// Fits the chain on <paramref name="input"/>: ONNX (feature column → <paramref name="logitsOutput"/>) → Score and
    /// PredictedLabel → the logits column dropped.
    /// </summary>
    public static ITransformer Fit(MLContext context, byte[] onnx, string featureColumn, string logitsOutput,
        string labelColumn, string scoreColumn, string predictedLabelColumn, int classCount, string[] labelNames, IDataView input)
    {
        EnsureAvailable();
        var onnxTransformer = context.Transforms.ApplyOnnxModel(new[] { logitsOutput }, new[] { featureColumn }, new MemoryStream(onnx)).Fit(input);
        var withLogits = onnxTransformer.GetOutputSchema(input.Schema);
        var prediction = Prediction(context, withLogits, logitsOutput, labelColumn, classCount, labelNames);
        var chain = new List<ITransformer> { onnxTransformer, prediction };
        var scored = prediction.Transform(onnxTransformer.Transform(input));
        var dropped = new List<string> { logitsOutput };
        // ML.NET's multiclass scorer always names its outputs Score and PredictedLabel; other names are copies.
        if (scoreColumn != DefaultScore || predictedLabelColumn != DefaultPredictedLabel)
        {
            var copy = context.Transforms.CopyColumns(scoreColumn, DefaultScore)
                .Append(context.Transforms.CopyColumns(predictedLabelColumn, DefaultPredictedLabel)).Fit(scored);
            chain.Add(copy);
            scored = copy.Transform(scored);
            dropped.AddRange(new[] { DefaultScore, DefaultPredictedLabel }.Except(new[] { scoreColumn, predictedLabelColumn }));
        }
        chain.Add(context.Transforms.DropColumns(dropped.ToArray()).Fit(scored));
        return new TransformerChain<ITransformer>(chain.ToArray());
    }

    /// <summary>The same chain's output schema, for <see cref="IEstimator{TTransformer}.GetOutputSchema"/>.</summary>
    /// <remarks>
    /// <see cref="SchemaShape.Column"/> cannot be built outside ML.NET, so the shape comes from public estimators with
    /// the same outputs: the ONNX step over a stand-in model, then ML.NET's maximum-entropy trainer (whose transformer
    /// is the one <see cref="Fit"/> builds); the result is the input's columns plus Score and PredictedLabel, as <see cref="Fit"/>
    /// leaves them after dropping the logits column.
    /// </remarks>
    public static SchemaShape OutputSchema(MLContext context, byte[] standInOnnx, string featureColumn, string logitsOutput,
        string labelColumn, string scoreColumn, string predictedLabelColumn, SchemaShape input)
    {
        var shape = context.Transforms.ApplyOnnxModel(new[] { logitsOutput }, new[] { featureColumn }, new MemoryStream(standInOnnx)).GetOutputSchema(input);
        shape = context.MulticlassClassification.Trainers.LbfgsMaximumEntropy(labelColumn, logitsOutput).GetOutputSchema(shape);
        // The trainer names its outputs Score and PredictedLabel; a copy gives the same column under the requested name.
        shape = context.Transforms.CopyColumns(scoreColumn, DefaultScore)
            .Append(context.Transforms.CopyColumns(predictedLabelColumn, DefaultPredictedLabel)).GetOutputSchema(shape);
        var score = shape.Last(c => c.Name == scoreColumn);
        var predicted = shape.Last(c => c.Name == predictedLabelColumn);
        return new SchemaShape(input.Where(c => c.Name != scoreColumn && c.Name != predictedLabelColumn).Append(score).Append(predicted));
    }

    /// <summary>A name for the logits output that is not a column of the input (ML.NET names the column after the ONNX output).</summary>
    public static string LogitsName(IEnumerable<string> inputColumns)
    {
        var taken = inputColumns.ToHashSet(StringComparer.Ordinal);
        var name = "Logits";
        for (int i = 1; taken.Contains(name); i++) name = $"HyperSparseLogits{i}";
        return name;
    }

    private const string DefaultScore = "Score";
    private const string DefaultPredictedLabel = "PredictedLabel";

    private static ITransformer Prediction(MLContext context, DataViewSchema schema, string logitsColumn, string labelColumn,
        int classCount, string[] labelNames)
    {
        var (modelConstructor, transformerConstructor) = Constructors.Value;
        // Identity weights, zero bias: Score = softmax(logits), PredictedLabel = arg-max(logits).
        var weights = new VBuffer<float>[classCount];
        for (int k = 0; k < classCount; k++)
            weights[k] = new VBuffer<float>(classCount, 1, new[] { 1f }, new[] { k });
        var model = (MaximumEntropyModelParameters)modelConstructor!.Invoke(new object?[]
            { context, weights, new float[classCount], classCount, classCount, labelNames, null });
        return (ITransformer)transformerConstructor!.Invoke(new object?[]
            { context, model, schema, logitsColumn, labelColumn, DefaultScore, DefaultPredictedLabel });
    }
}
