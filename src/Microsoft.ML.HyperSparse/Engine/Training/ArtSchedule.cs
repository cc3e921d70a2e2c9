namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// ART's regularisation strength: λ_e = λ_init · η^(e − E_warm) with e the 0-based global epoch, so the first ART epoch
/// uses λ_init. λ is constant within an epoch.
/// </summary>
internal static class ArtSchedule
{
    public static double Lambda(double lambdaInit, double lambdaGrowth, int warmupEpochs, int globalEpoch) =>
        lambdaInit * Math.Pow(lambdaGrowth, globalEpoch - warmupEpochs);

    /// <summary>Step decay: the base rate times <paramref name="decay"/> for each step epoch already reached.</summary>
    public static double StepLearningRate(double baseRate, double decay, IReadOnlyList<int> steps, int phaseEpoch) =>
        baseRate * Math.Pow(decay, steps.Count(s => phaseEpoch >= s));
}
