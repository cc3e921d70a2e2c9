using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Training;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Pretrained;
using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.Runtime;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// Trains a sparse convolutional image classifier with Adaptive Regularized Training and the HyperSparse loss
/// (Glandorf, Kaiser, Rosenhahn, arXiv 2308.07163), prunes it to <see cref="Options.PruningRate"/>, and returns a
/// transformer that scores the exported ONNX model through ONNX Runtime (no TorchSharp needed at scoring time).
/// </summary>
/// <remarks>
/// <para><b>Input columns.</b> Features: <c>Vector&lt;Single, C, H, W&gt;</c> as produced by
/// <c>LoadImages → ResizeImages → ExtractPixels</c>, or a flat <c>Vector&lt;Single&gt;</c> of C·H·W values with
/// <see cref="Options.ImageChannels"/>, <see cref="Options.ImageHeight"/> and <see cref="Options.ImageWidth"/>.
/// Label: a key type (from <c>MapValueToKey</c>) with at least two classes.</para>
/// <para><b>Scoring with a <c>PredictionEngine</c>.</b> The model's ONNX input has a fixed size of C·H·W floats, and ML.NET's ONNX
/// transformer needs that size in the input schema. An input class whose features are a <c>float[]</c> must therefore declare it:
/// <c>[VectorType(C*H*W)]</c> on the member (e.g. <c>[VectorType(784)]</c> for 1×28×28), or a <c>SchemaDefinition</c> passed to
/// <c>CreatePredictionEngine</c> whose column has <c>ColumnType = new VectorDataViewType(NumberDataViewType.Single, C*H*W)</c>.
/// A <c>float[]</c> without either is a vector of unknown size, and the engine fails inside ML.NET's ONNX transformer with
/// "Index was out of range" (an <see cref="ArgumentOutOfRangeException"/>). <see cref="HyperSparseModelInfo.Contract"/> gives the
/// input's name and [batch, C, H, W] shape. A chain that starts with <c>LoadImages</c> takes an image path instead.</para>
/// <para><b>Output columns.</b> <c>Score</c>: <c>Vector&lt;Single&gt;</c> of class probabilities.
/// <c>PredictedLabel</c>: the label's key type with the label's key values, so
/// <c>MulticlassClassification.Evaluate</c> and <c>MapKeyToValue</c> work unchanged.</para>
/// <para><b>Characteristics.</b> Machine learning task: multiclass classification. Normalisation needed: no (per-channel
/// mean/std are computed from the training data and baked into the model). Caching: not needed (the data is read once
/// into memory). Required NuGet for scoring: Microsoft.ML and Microsoft.ML.OnnxTransformer.</para>
/// <para>Progress goes to <see cref="Options.Progress"/> as data (<see cref="HyperSparseProgress"/>) and, as one line per
/// epoch for people, to <c>MLContext.Log</c>. A resume of another run's checkpoint throws
/// <see cref="HyperSparseResumeMismatchException"/> listing what differs.
/// <see cref="Options.CancellationToken"/> stops training within one mini-batch, leaving no partial file; ML.NET's host
/// cancellation (<c>MLContext.CancelExecution()</c>, internal to ML.NET's own tools) is noticed within 0.1 s.</para>
/// </remarks>
public sealed partial class HyperSparseClassificationTrainer : IEstimator<HyperSparseClassificationTransformer>
{
    private readonly Options options;
    private readonly IHostEnvironment? environment;

    internal HyperSparseClassificationTrainer(IHostEnvironment? environment, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ScoringChain.EnsureAvailable();
        this.environment = environment;
        // A copy: changing the caller's object after this point changes no trainer (and the checked options stay checked).
        this.options = options.Clone();
    }

    /// <summary>A copy of the options this trainer was created with (changing it does not change the trainer).</summary>
    public Options TrainerOptions => options.Clone();

    /// <summary>
    /// The names of an architecture's prunable (conv and linear) layers in network order, e.g. <c>conv1</c>, <c>conv2</c>,
    /// <c>fc1</c>, <c>fc2</c>, <c>fc3</c> for LeNet-5: what <see cref="Options.KeepDenseLayers"/> accepts. They do not depend on
    /// the image size or the number of classes.
    /// </summary>
    /// <param name="architecture">The network.</param>
    public static IReadOnlyList<string> LayerNames(HyperSparseArchitecture architecture) =>
        Engine.Models.ModelFactory.PrunableLayerNames(Options.ToEngine(architecture));

    /// <summary>Trains, prunes and exports the model; returns the ONNX-scoring transformer.</summary>
    /// <param name="input">Training data with the feature and label columns.</param>
    public HyperSparseClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var contract = ColumnContract.From(input.Schema, options);
        if (options.ValidationSet is { } validationView)
            contract.CheckValidationSet(ColumnContract.ForValidationSet(validationView.Schema, options));
        using var channel = environment?.Start("HyperSparse");
        void Log(string message) => channel?.Info(MessageSensitivity.None, LogWording is { } reword ? reword(message) : message);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        using var watcher = WatchHostCancellation(cancellation);

        var train = contract.Read(input, "Training", cancellation.Token);
        contract.CheckClassesPresent(train);
        var validation = options.ValidationSet is null ? null : contract.Read(options.ValidationSet, "Validation", cancellation.Token);
        // The image size is known from the schema, but the data's own errors are reported first (the positional catalog
        // overload's default padding of 4 exceeds a 4×4 image); still before the first epoch.
        CheckCropPadding(contract);

        var scale = options.PixelScale ?? (train.Pixels.AsSpan().IndexOfAnyExceptInRange(-1.5f, 1.5f) >= 0 ? 1f / 255 : 1f);
        // A pretrained start: the weights decide the network and its preprocessing; grayscale images are replicated to its channels.
        var weights = options.Pretrained is { } pretrained ? ReadPretrained(pretrained, contract) : null;
        var (engineTrain, engineValidation) = weights is not null && contract.Channels != weights.InputChannels
            ? (train.ReplicateChannels(weights.InputChannels), validation?.ReplicateChannels(weights.InputChannels))
            : (train, validation);
        var normalization = weights is null ? Normalization.FromData(train, scale) : PretrainedLoader.Normalization(weights, scale);
        var engineOptions = options.ToEngine(weights);
        Log($"HyperSparse: {train.Count} training images {contract.Channels}×{contract.Height}×{contract.Width}, {contract.ClassCount} classes, " +
            $"{engineOptions.Architecture}, κ = {options.PruningRate}, pixel scale {scale}" +
            (weights is null ? "." : $"; starting from {weights.Format} in '{weights.Source}' ({weights.Preprocessing.Description})."));

        using var result = TrainEngine(engineOptions, engineTrain, engineValidation, normalization, Log, options.Progress, options.TimeBudget, cancellation.Token);
        if (result.Report.Pretrained is { } loaded && engineTrain != train)
            result.Report.Pretrained = loaded with { ReplicatedGrayscale = true };

        var description = result.DescribeNetwork(contract.FeatureColumn, contract.Channels);
        // One file: users get Score (softmax) and Logits; ML.NET's chain reads the logits. The file's output is always named
        // "Logits" (a stable contract); only when the input already has a column of that name does the chain need a second
        // copy with another output name — the one case, besides int8's float reference below, that writes more than once.
        var encoding = options.ToOnnxEncoding();
        var mode = options.EffectiveQuantization;
        var calibration = mode == HyperSparseQuantization.Full ? CalibrationPixels(train, options.CalibrationImages) : null;
        var fileLogitsName = ScoringChain.LogitsName(new[] { options.ScoreColumnName });
        var export = OnnxModelWriter.Write(description, ExportOptions(encoding, fileLogitsName, calibration));
        var logitsName = ChainLogitsName(input.Schema.Select(c => c.Name));
        var scoringBytes = logitsName == fileLogitsName ? export.Bytes : OnnxModelWriter.Write(description, ExportOptions(encoding, logitsName, calibration)).Bytes;
        HyperSparseQuantizationCheck? quantization = null;
        if (mode != HyperSparseQuantization.None)
        {
            // The one other export: the same network with float weights, the reference the int8 file is measured against.
            var floatBytes = OnnxModelWriter.Write(description, ExportOptions(encoding, fileLogitsName) with { Quantization = OnnxQuantization.None, CalibrationPixels = null }).Bytes;
            quantization = HyperSparseQuantizationCheck.Run(floatBytes, export.Bytes, contract.FeatureColumn, fileLogitsName,
                validation ?? train, validation is null ? "training set" : "validation set", cancellation.Token) with
            {
                Mode = mode,
                CalibrationImages = export.Calibration?.ImageCount ?? 0,
                CalibratedActivations = export.Calibration?.Tensors.Select(t => new HyperSparseActivationRange(t.Producer, t.Min, t.Max, t.Scale)).ToArray() ?? [],
                FloatLayers = export.Calibration?.FloatLayers.ToArray() ?? [],
            };
            Log(string.Create(CultureInfo.InvariantCulture,
                $"HyperSparse: int8 {(mode == HyperSparseQuantization.Full ? "weights and activations (" + quantization.CalibrationImages + " calibration images)" : "weights")}: " +
                $"accuracy {quantization.QuantizedAccuracy:F2} % vs float {quantization.FloatAccuracy:F2} % " +
                $"({quantization.AccuracyChange:+0.00;-0.00;0.00} pp) on {quantization.Images:N0} images of the {quantization.EvaluatedOn}."));
        }

        var report = new HyperSparseTrainingReport(result.Report, export.Size, contract.LabelNames, quantization);
        if (report.Layers.Any(l => l.TrainedKept != l.ShippedKept || !l.TrainedShape.SequenceEqual(l.ShippedShape)))
            Log($"HyperSparse: dead-channel shrink: {report.Layers.Sum(l => l.OutputChannelsRemoved):N0} output channels and " +
                $"{report.Layers.Sum(l => l.InputChannelsRemoved):N0} input slices removed ({report.Layers.Sum(l => l.TrainedKept - l.ShippedKept):N0} kept weights " +
                $"folded into biases, merged or read by nothing): " +
                string.Join(", ", report.Layers.Where(l => l.OutputChannelsRemoved != 0 || l.InputChannelsRemoved != 0)
                    .Select(l => $"{l.Name} [{string.Join('x', l.TrainedShape)}] → [{string.Join('x', l.ShippedShape)}]")) + ".");
        Log($"HyperSparse: done. Sparsity {report.AchievedSparsity:P2} ({report.KeptWeights:N0} of {report.PrunableWeights:N0} weights kept); " +
            $"ONNX {export.Size.ShippedBytes:N0} bytes ({options.WeightEncoding}) vs {export.Size.DenseBytes:N0} dense." +
            (report.Layers.Any(l => l.KeptDense) ? $" Kept dense (excluded): {string.Join(", ", report.Layers.Where(l => l.KeptDense).Select(l => l.Name))}." : ""));
        var scorer = ScoringChain.Fit(new MLContext(options.Seed), scoringBytes, contract.FeatureColumn, logitsName, contract.LabelColumn,
            options.ScoreColumnName, options.PredictedLabelColumnName, contract.ClassCount, contract.LabelNames, input);
        return new HyperSparseClassificationTransformer(scorer, export.Bytes, report);
    }

    /// <summary>
    /// Reads the pretrained weights and checks they fit the data: the architecture named in the options, an image of at least
    /// 32×32 pixels, one channel or the network's three.
    /// </summary>
    private PretrainedWeights ReadPretrained(HyperSparsePretrained pretrained, ColumnContract contract)
    {
        var weights = pretrained.Read();
        if (weights.Architecture is not { } architecture)
            throw new InvalidDataException($"The pretrained weights in '{weights.Source}' ({weights.Format}) have blocks [{string.Join(", ", weights.Blocks)}] per stage; " +
                "supported: [2, 2, 2, 2] (ResNet-18), [3, 4, 6, 3] (ResNet-34), [2, 2, 2, 3] (ML.NET's ResNet-18).");
        if (options.Architecture != HyperSparseDefaults.Architecture && Options.ToEngine(options.Architecture) != architecture)
            throw Errors.Option(nameof(Options.Architecture),
                $"the pretrained network's own, {architecture} (from '{weights.Source}'), or the default", options.Architecture);
        if (contract.Height < ImageNetResNet.MinimumImageSize || contract.Width < ImageNetResNet.MinimumImageSize)
            throw Errors.SchemaMismatch("Feature", contract.FeatureColumn,
                $"images of at least {ImageNetResNet.MinimumImageSize}×{ImageNetResNet.MinimumImageSize} pixels for the pretrained {architecture} " +
                "(it halves the image 5 times; resize the images, e.g. ResizeImages to 64×64)",
                $"{contract.Channels}×{contract.Height}×{contract.Width}");
        if (contract.Channels != weights.InputChannels && contract.Channels != 1)
            throw Errors.SchemaMismatch("Feature", contract.FeatureColumn,
                $"{weights.InputChannels} channels (or 1, replicated) for the pretrained {architecture}", $"{contract.Channels} channels");
        return weights;
    }

    /// <summary>The output schema: the input plus Score (Vector&lt;Single&gt;) and PredictedLabel (the label's key type).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var feature = inputSchema.LastOrDefault(c => c.Name == options.FeatureColumnName);
        if (feature.Name is null)
            throw Errors.MissingColumn("Feature", options.FeatureColumnName, inputSchema.Select(c => c.Name));
        if (feature.Kind != SchemaShape.Column.VectorKind.Vector || feature.ItemType != NumberDataViewType.Single)
            throw Errors.SchemaMismatch("Feature", options.FeatureColumnName, "a known-size vector of Single", $"{feature.Kind} of {feature.ItemType}");
        var label = inputSchema.LastOrDefault(c => c.Name == options.LabelColumnName);
        if (label.Name is null)
            throw Errors.MissingColumn("Label", options.LabelColumnName, inputSchema.Select(c => c.Name));
        if (!label.IsKey)
            throw Errors.SchemaMismatch("Label", options.LabelColumnName, "a key type (use MapValueToKey)", label.ItemType.ToString() ?? "?");
        var logitsName = ChainLogitsName(inputSchema.Select(c => c.Name));
        var standIn = OnnxModelWriter.Write(StandInNetwork(options.FeatureColumnName), ExportOptions(OnnxWeightEncoding.Dense, logitsName)).Bytes;
        return ScoringChain.OutputSchema(new MLContext(), standIn, options.FeatureColumnName, logitsName, options.LabelColumnName,
            options.ScoreColumnName, options.PredictedLabelColumnName, inputSchema);
    }

    /// <summary>
    /// A test seam: rewords every log message, so a test can show that no caller (the CLI) depends on the log's wording.
    /// </summary>
    internal static Func<string, string>? LogWording { get; set; }

    /// <summary>Runs the engine; its divergence error becomes the public <see cref="HyperSparseTrainingDivergedException"/>.</summary>
    private static TrainingResult TrainEngine(TrainingOptions engineOptions, ImageDataset train, ImageDataset? validation,
        Normalization normalization, Action<string> log, IProgress<HyperSparseProgress>? progress, TimeSpan? budget, CancellationToken cancellation)
    {
        try
        {
            var trainer = new ArtTrainer(engineOptions, e => log(Describe(e)), log)
            {
                Observer = progress is null ? null : e => progress.Report(HyperSparseProgress.From(e, budget)),
            };
            return trainer.Train(train, validation, normalization, cancellation);
        }
        catch (ResumeMismatchException ex)
        {
            throw HyperSparseResumeMismatchException.From(ex);
        }
        catch (TrainingDivergedException ex)
        {
            throw new HyperSparseTrainingDivergedException(ex.Message, ex.Epoch, HyperSparseProgress.ToPublic(ex.Phase), ex.Lambda, ex.LearningRate, ex.Quantity, ex);
        }
    }

    /// <summary>
    /// A padding above half the image lets a random crop hold more padding than image (at 5 on 8×8, a crop may keep 3×3
    /// pixels of 64), so the network trains on mostly blank crops. ⌊min(H, W) / 2⌋ keeps at least half of each side:
    /// a window of side S shifted by at most p pixels holds S − p ≥ S / 2 image pixels along it.
    /// </summary>
    private void CheckCropPadding(ColumnContract contract)
    {
        var largest = Math.Min(contract.Height, contract.Width) / 2;
        if (options.CropPadding > largest)
            throw Errors.Option(nameof(Options.CropPadding),
                $"at most {largest} (⌊min(height, width) / 2⌋ for the {contract.Height}×{contract.Width} images of feature column " +
                $"'{contract.FeatureColumn}', so that every random crop keeps at least half of the image's height and width)", options.CropPadding);
    }

    private string ChainLogitsName(IEnumerable<string> inputColumns) =>
        ScoringChain.LogitsName(inputColumns.Append(options.ScoreColumnName).Append(options.PredictedLabelColumnName));

    /// <summary>
    /// <paramref name="count"/> training images spread evenly over the set (every class of a class-sorted set is reached), as
    /// the graph input takes them.
    /// </summary>
    internal static float[] CalibrationPixels(ImageDataset train, int count)
    {
        int n = Math.Min(count, train.Count);
        long size = train.ImageSize;
        var pixels = new float[checked(n * size)];
        for (int i = 0; i < n; i++)
        {
            long index = (long)i * train.Count / n;
            Array.Copy(train.Pixels, index * size, pixels, i * size, size);
        }
        return pixels;
    }

    /// <param name="encoding">Weight encoding.</param>
    /// <param name="logitsName">The file's logits output.</param>
    /// <param name="calibration">Calibration images for a fully quantised export; without them (the schema's stand-in) Full exports weights-only.</param>
    private OnnxExportOptions ExportOptions(OnnxWeightEncoding encoding, string logitsName, float[]? calibration = null) => new()
    {
        WeightEncoding = encoding,
        Quantization = options.EffectiveQuantization switch
        {
            HyperSparseQuantization.Full => calibration is null ? OnnxQuantization.WeightsOnly : OnnxQuantization.Full,
            HyperSparseQuantization.WeightsOnly => OnnxQuantization.WeightsOnly,
            _ => OnnxQuantization.None,
        },
        CalibrationPixels = calibration,
        ShrinkDeadChannels = options.ShrinkDeadChannels,
        ScoreOutputName = options.ScoreColumnName,
        LogitsOutputName = logitsName,
    };

    private static NetworkDescription StandInNetwork(string inputName) => new()
    {
        InputName = inputName,
        Channels = 1, Height = 1, Width = 1, ClassCount = 2,
        Mean = new[] { 0f }, Std = new[] { 1f },
        Nodes = new NetworkNode[]
        {
            new FlattenNode("flatten", NetworkDescription.NormalizedTensor, "flatten"),
            new LinearNode("fc", "flatten", NetworkDescription.LogitsTensor, 2, 1, new[] { 1f, -1f }, null, Prunable: false),
        },
    };

    private static string Describe(EpochRecord e)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"HyperSparse: {e.Phase} epoch {e.PhaseEpoch + 1} (global {e.Epoch + 1}): loss {e.TrainLoss:F4}, train acc {e.TrainAccuracy:F2} %");
        if (e.Phase == TrainingPhase.Art) text += string.Create(CultureInfo.InvariantCulture, $", λ {e.Lambda:G3}, pruned train acc {e.PrunedTrainAccuracy:F2} %");
        if (e.ValidationAccuracy is { } va) text += string.Create(CultureInfo.InvariantCulture, $", validation acc {va:F2} %");
        return text + string.Create(CultureInfo.InvariantCulture, $", sparsity {e.Sparsity:P2}, {e.Seconds:F1} s");
    }

    /// <summary>MLContext.CancelExecution() sets the host's IsCanceled flag; poll it and cancel the token.</summary>
    private IDisposable? WatchHostCancellation(CancellationTokenSource source)
    {
        var property = environment?.GetType().GetProperty("IsCanceled", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        if (property is null || property.PropertyType != typeof(bool)) return null;
        return new Timer(_ =>
        {
            try { if ((bool)property.GetValue(environment)!) source.Cancel(); }
            catch (ObjectDisposedException) { }
        }, null, 100, 100);
    }

    /// <summary>The catalog's host environment (the user's MLContext), read through ML.NET's non-public catalog members.</summary>
    internal static IHostEnvironment? EnvironmentOf(object catalog)
    {
        // The members read below are not ML.NET's public API: refuse an ML.NET newer than the tested one first.
        MLNetVersion.EnsureSupported();
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        object? owner = null;
        for (var t = catalog.GetType(); t is not null && owner is null; t = t.BaseType)
            owner = t.GetProperty("Owner", Any)?.GetValue(catalog);
        if (owner is null) return null;
        for (var t = owner.GetType(); t is not null; t = t.BaseType)
            if (t.GetProperty("Environment", Any)?.GetValue(owner) is IHostEnvironment env) return env;
        Debug.WriteLine("HyperSparse: MLContext environment not found; progress will not reach MLContext.Log.");
        return null;
    }
}
