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

    /// <summary>
    /// The schedule of a pretrained start (<see cref="TrainingOptions.Pretrained"/>), where it differs from training from
    /// scratch; measured on Fashion-MNIST at 64×64 from ML.NET's ResNet-18 (docs/benchmarks.md, "Transfer").
    /// </summary>
    public static class Transfer
    {
        /// <summary>
        /// SGD learning rate for the head stage, ART and fine-tune. ML.NET's ResNet-18 takes 0–255 input and gives large
        /// features: head LR 0.1 or backbone LR 0.01 diverged to NaN within steps; head ≤ 3e-3 and backbone ≈ 1e-3 were stable
        /// (platform notes, measured in PyTorch on the same weights).
        /// </summary>
        public const double LearningRate = 1e-3;
        /// <summary>Head-stage epochs (the warm-up of a pretrained start): only the new classifier trains.</summary>
        public const int HeadEpochs = 2;
        public const double LambdaInit = 1e-2;
        public const double LambdaGrowth = 1.5;
        public const int MaxArtEpochs = 30;
        public const int FineTuneEpochs = 10;
        public static readonly IReadOnlyList<int> LearningRateSteps = new[] { 5, 8 };
        /// <summary>Batch norm keeps its ImageNet statistics (2–2.5 points better than train mode, platform notes).</summary>
        public const bool FreezeBatchNormStatistics = true;
    }
}
