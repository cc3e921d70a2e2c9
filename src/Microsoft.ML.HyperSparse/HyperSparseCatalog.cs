using Microsoft.ML.HyperSparse;

namespace Microsoft.ML;

/// <summary>Adds <c>HyperSparseClassification</c> to <c>MLContext.MulticlassClassification.Trainers</c>.</summary>
public static class HyperSparseCatalog
{
    /// <summary>
    /// Trains a sparse image classifier (HyperSparse loss + Adaptive Regularized Training), pruned so that
    /// <paramref name="pruningRate"/> of its weights are zero, scored through ONNX Runtime.
    /// </summary>
    /// <param name="catalog">The multiclass classification trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column. Default "Label".</param>
    /// <param name="featureColumnName">Image column, Vector&lt;Single, C, H, W&gt; from ExtractPixels. Default "Features".</param>
    /// <param name="pruningRate">κ, fraction of conv/linear weights set to zero, in (0, 1). Default 0.9.</param>
    /// <param name="architecture">Network to train. Default ResNet-20.</param>
    /// <param name="warmupEpochs">Dense epochs before ART, ≥ 1. Default 60 (the paper's).</param>
    /// <param name="fineTuneEpochs">Masked fine-tune epochs after pruning (LR steps at 50 % and 75 % of them), ≥ 1. Default 160 (the paper's).</param>
    /// <param name="batchSize">Mini-batch size, ≥ 1. Default 64.</param>
    /// <param name="seed">Seed for initialisation, shuffling and augmentation. Default 42.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (e.g. <paramref name="pruningRate"/> outside (0, 1)); thrown here, before any data is read.</exception>
    public static HyperSparseClassificationTrainer HyperSparseClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label",
        string featureColumnName = "Features",
        double pruningRate = 0.9,
        HyperSparseArchitecture architecture = HyperSparseArchitecture.ResNet20,
        int warmupEpochs = 60,
        int fineTuneEpochs = 160,
        int batchSize = 64,
        int seed = 42)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = new HyperSparseClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            PruningRate = pruningRate,
            Architecture = architecture,
            WarmupEpochs = warmupEpochs,
            FineTuneEpochs = fineTuneEpochs,
            LearningRateSteps = new[] { fineTuneEpochs / 2, fineTuneEpochs * 3 / 4 },
            BatchSize = batchSize,
            Seed = seed,
        };
        return new HyperSparseClassificationTrainer(HyperSparseClassificationTrainer.EnvironmentOf(catalog), options);
    }

    /// <summary>Trains a sparse image classifier with every setting given by <paramref name="options"/>.</summary>
    /// <param name="catalog">The multiclass classification trainers catalog.</param>
    /// <param name="options">All settings; see <see cref="HyperSparseClassificationTrainer.Options"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or <see cref="HyperSparseClassificationTrainer.Options.ValidationSet"/> lacks the columns; thrown here, before any data is read.</exception>
    public static HyperSparseClassificationTrainer HyperSparseClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        HyperSparseClassificationTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new HyperSparseClassificationTrainer(HyperSparseClassificationTrainer.EnvironmentOf(catalog), options);
    }
}
