using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// Training produced a non-finite number (a loss, a weight) or would use a λ beyond float32: continuing would train on
/// NaN, keep every NaN weight through pruning (NaN is never ≤ τ) and return a model that scores nothing. Thrown at the
/// first such number; the epoch it happened in writes no checkpoint, so a resume starts from the last finite state.
/// The adapter turns it into the public <c>HyperSparseTrainingDivergedException</c> with the same message.
/// </summary>
internal sealed class TrainingDivergedException : InvalidOperationException
{
    private TrainingDivergedException(string message, int epoch, TrainingPhase phase, double lambda, double learningRate, string quantity)
        : base(message)
    {
        Epoch = epoch;
        Phase = phase;
        Lambda = lambda;
        LearningRate = learningRate;
        Quantity = quantity;
    }

    /// <summary>1-based global epoch, as the progress log counts.</summary>
    public int Epoch { get; }
    public TrainingPhase Phase { get; }
    public double Lambda { get; }
    public double LearningRate { get; }
    /// <summary>"loss", "probe loss", "validation loss", "λ" or the name of a parameter or buffer (e.g. "fc1.weight").</summary>
    public string Quantity { get; }

    /// <summary>A non-finite <paramref name="quantity"/> (<paramref name="value"/>) seen in 0-based global epoch <paramref name="epoch"/>.</summary>
    public static TrainingDivergedException NonFinite(int epoch, TrainingPhase phase, double lambda, double learningRate, string quantity,
        string value, Settings settings) =>
        new(Invariant($"Training diverged in epoch {epoch + 1} ({phase}): the {Describe(quantity)} is {value} (learning rate {learningRate:g}, λ {lambda:g}). {Fix(phase, settings)}"),
            epoch + 1, phase, lambda, learningRate, quantity);

    /// <summary>ART's λ for 0-based global epoch <paramref name="epoch"/> is beyond float32 (the tensors' type) or not finite.</summary>
    public static TrainingDivergedException LambdaOutOfRange(int epoch, int artEpoch, double lambda, double learningRate, Settings settings) =>
        new(Invariant($"Training diverged in epoch {epoch + 1} (Art): λ of ART epoch {artEpoch + 1} is {lambda:g}, beyond the largest float32 {float.MaxValue:g} the regulariser's tensors can hold (learning rate {learningRate:g}); the epoch did not run. {Fix(TrainingPhase.Art, settings)}"),
            epoch + 1, TrainingPhase.Art, lambda, learningRate, "λ");

    /// <summary>The options a user can lower, with their values now (λ_init and η as the schedule has them), for the suggested fix.</summary>
    internal readonly record struct Settings(double LearningRate, double LambdaInit, double LambdaGrowth);

    private static string Describe(string quantity) => quantity switch
    {
        "loss" => "training loss",
        "probe loss" or "validation loss" => quantity,
        _ => $"value of '{quantity}'",
    };

    // Outside ART there is no λ, so only the learning rate can be the cause.
    private static string Fix(TrainingPhase phase, Settings s) => phase == TrainingPhase.Art
        ? Invariant($"Lower LambdaInit (now {s.LambdaInit:g}) or LambdaGrowth (now {s.LambdaGrowth:g}), or LearningRate (now {s.LearningRate:g}).")
        : Invariant($"Lower LearningRate (now {s.LearningRate:g}).");

    /// <summary>NaN, +Infinity or -Infinity spelled out (the culture's "∞" is easy to miss).</summary>
    public static string Show(float value) => value switch
    {
        float.PositiveInfinity => "+Infinity",
        float.NegativeInfinity => "-Infinity",
        _ => value.ToString("g", CultureInfo.InvariantCulture),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
