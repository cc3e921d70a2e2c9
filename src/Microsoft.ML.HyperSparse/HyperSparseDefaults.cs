using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse;

/// <summary>
/// The defaults of <see cref="HyperSparseClassificationTrainer.Options"/>: the paper's reference code (Glandorf et al.,
/// ResNet-32 schedule) except where noted. One source for the options, the training engine and the documentation; a
/// schedule option left null takes its value from here (or, with <see cref="HyperSparseClassificationTrainer.Options.TimeBudget"/>,
/// from the planner).
/// </summary>
public static class HyperSparseDefaults
{
    /// <summary>ResNet-20 (not the paper's ResNet-32, which is ≈4× slower on a CPU).</summary>
    public const HyperSparseArchitecture Architecture = HyperSparseArchitecture.ResNet20;
    /// <summary>κ = 0.9.</summary>
    public const double PruningRate = TrainingDefaults.PruningRate;
    /// <summary>λ_init = 5e-6.</summary>
    public const double LambdaInit = TrainingDefaults.LambdaInit;
    /// <summary>η = 1.05.</summary>
    public const double LambdaGrowth = TrainingDefaults.LambdaGrowth;
    /// <summary>60 dense warm-up epochs.</summary>
    public const int WarmupEpochs = TrainingDefaults.WarmupEpochs;
    /// <summary>At most 300 ART epochs (the reference has no cap).</summary>
    public const int MaxArtEpochs = TrainingDefaults.MaxArtEpochs;
    /// <summary>m = 1: the stop rule averages over 3 epochs.</summary>
    public const int StopWindowHalfSize = TrainingDefaults.StopWindowHalfSize;
    /// <summary>160 masked fine-tune epochs.</summary>
    public const int FineTuneEpochs = TrainingDefaults.FineTuneEpochs;
    /// <summary>The learning rate drops at fine-tune epochs 80 and 120.</summary>
    public static IReadOnlyList<int> LearningRateSteps => TrainingDefaults.LearningRateSteps;
    /// <summary>Mini-batches of 64.</summary>
    public const int BatchSize = TrainingDefaults.BatchSize;
    /// <summary>SGD learning rate 0.1.</summary>
    public const double LearningRate = TrainingDefaults.LearningRate;
    /// <summary>×0.1 at each learning-rate step.</summary>
    public const double LearningRateDecay = TrainingDefaults.LearningRateDecay;
    /// <summary>SGD momentum 0.9.</summary>
    public const double Momentum = TrainingDefaults.Momentum;
    /// <summary>Weight decay 1e-4.</summary>
    public const double WeightDecay = TrainingDefaults.WeightDecay;
    /// <summary>Random crops with 4 pixels of padding.</summary>
    public const int CropPadding = TrainingDefaults.CropPadding;
    /// <summary>Random horizontal flips on.</summary>
    public const bool HorizontalFlip = TrainingDefaults.HorizontalFlip;

    /// <summary>Train in bfloat16 mixed precision (<see cref="HyperSparseClassificationTrainer.Options.UseBFloat16"/>): off, float32 throughout.</summary>
    public const bool UseBFloat16 = false;
    /// <summary>Seed 42.</summary>
    public const int Seed = TrainingDefaults.Seed;

    /// <summary>
    /// SGD learning rate 1e-3 with <see cref="HyperSparseClassificationTrainer.Options.Pretrained"/> (when
    /// <see cref="HyperSparseClassificationTrainer.Options.LearningRate"/> is null): ML.NET's ResNet-18 diverged at 1e-2.
    /// </summary>
    public const double TransferLearningRate = TrainingDefaults.Transfer.LearningRate;
    /// <summary>Head-stage epochs of a pretrained start (its warm-up: only the new classifier trains): 2.</summary>
    public const int TransferHeadEpochs = TrainingDefaults.Transfer.HeadEpochs;
    /// <summary>λ_init of a pretrained start.</summary>
    public const double TransferLambdaInit = TrainingDefaults.Transfer.LambdaInit;
    /// <summary>η of a pretrained start.</summary>
    public const double TransferLambdaGrowth = TrainingDefaults.Transfer.LambdaGrowth;
    /// <summary>ART cap of a pretrained start.</summary>
    public const int TransferMaxArtEpochs = TrainingDefaults.Transfer.MaxArtEpochs;
    /// <summary>Fine-tune epochs of a pretrained start.</summary>
    public const int TransferFineTuneEpochs = TrainingDefaults.Transfer.FineTuneEpochs;
    /// <summary>Fine-tune learning-rate steps of a pretrained start.</summary>
    public static IReadOnlyList<int> TransferLearningRateSteps => TrainingDefaults.Transfer.LearningRateSteps;
    /// <summary>
    /// Training images (spread evenly over the training set) whose activations set the int8 ranges of
    /// <see cref="HyperSparseQuantization.Full"/>: <see cref="HyperSparseClassificationTrainer.Options.CalibrationImages"/>'s default.
    /// </summary>
    public const int CalibrationImages = 256;
}
