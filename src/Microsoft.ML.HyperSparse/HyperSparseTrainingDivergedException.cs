namespace Microsoft.ML.HyperSparse;

/// <summary>
/// Thrown by <see cref="HyperSparseClassificationTrainer.Fit"/> when training diverges: a training, probe or validation
/// loss, or a weight, became NaN or ±Infinity, or ART's λ (λ_init · η^k) would exceed the float32 range. Training stops
/// at the first such value instead of pruning and returning a model of NaN weights. The message names the epoch, the
/// phase, λ and the learning rate and says which option to lower. With
/// <see cref="HyperSparseClassificationTrainer.Options.CheckpointFolder"/> set, the diverged epoch writes no checkpoint, so
/// <see cref="HyperSparseClassificationTrainer.Options.Resume"/> continues from the last finite state.
/// </summary>
public sealed class HyperSparseTrainingDivergedException : InvalidOperationException
{
    internal HyperSparseTrainingDivergedException(string message, int epoch, HyperSparseTrainingPhase phase, double lambda, double learningRate,
        string quantity, Exception? innerException)
        : base(message, innerException)
    {
        Epoch = epoch;
        Phase = phase;
        Lambda = lambda;
        LearningRate = learningRate;
        Quantity = quantity;
    }

    /// <summary>The epoch that diverged, 1-based and counted over all phases, as the progress log counts ("global N").</summary>
    public int Epoch { get; }

    /// <summary>The phase of that epoch.</summary>
    public HyperSparseTrainingPhase Phase { get; }

    /// <summary>λ of that epoch (0 outside ART); for a λ beyond float32, the value that was refused.</summary>
    public double Lambda { get; }

    /// <summary>The learning rate of that epoch (in fine-tuning, after the step decays).</summary>
    public double LearningRate { get; }

    /// <summary>
    /// What was not finite: "loss" (a training mini-batch), "probe loss" (ART's pruned copy), "validation loss", "λ", or
    /// the name of a network parameter or buffer, e.g. "fc1.weight".
    /// </summary>
    public string Quantity { get; }
}
