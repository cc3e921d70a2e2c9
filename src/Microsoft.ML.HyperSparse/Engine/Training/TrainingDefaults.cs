using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// The one source of every training default: the engine's <see cref="TrainingOptions"/> and the public
/// <c>HyperSparseClassificationTrainer.Options</c> (through <c>HyperSparseDefaults</c>) both read these, and a test pins
/// them to the paper's reference code (utils/arg.py) except where a comment says otherwise.
/// </summary>
internal static class TrainingDefaults
{
    /// <summary>Not the paper's ResNet-32: ResNet-20 trains ≈4× faster on a CPU and is the same family.</summary>
    public const Architecture Network = Architecture.ResNet20;
    public const double PruningRate = 0.9;
    public const double LambdaInit = 5e-6;
    public const double LambdaGrowth = 1.05;
    public const int WarmupEpochs = 60;
    /// <summary>The reference has no cap on ART; this one forces the prune (and the report says so).</summary>
    public const int MaxArtEpochs = 300;
    public const int StopWindowHalfSize = 1;
    public const int FineTuneEpochs = 160;
    public static readonly IReadOnlyList<int> LearningRateSteps = new[] { 80, 120 };
    public const int BatchSize = 64;
    public const double LearningRate = 0.1;
    public const double LearningRateDecay = 0.1;
    public const double Momentum = 0.9;
    public const double WeightDecay = 1e-4;
    public const int CropPadding = 4;
    public const bool HorizontalFlip = true;
    public const int Seed = 42;
}
