using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Spec §2.1/§2.4: λ_e = λ_init·η^(e − E_warm) with the global 0-based epoch; LR ×0.1 at fine-tune epochs 80 and 120.</summary>
[TestClass]
public sealed class ArtScheduleTests
{
    [TestMethod]
    // §2.4 table, λ_init = 5e-6, η = 1.05, E_warm = 60; global epoch = 60 + ART epoch. Significant digits as printed there.
    [DataRow(0, 5.0e-6, 2)]
    [DataRow(10, 8.1e-6, 2)]
    [DataRow(20, 1.33e-5, 3)]
    [DataRow(40, 3.52e-5, 3)]
    [DataRow(60, 9.34e-5, 3)]
    [DataRow(80, 2.48e-4, 3)]
    [DataRow(100, 6.58e-4, 3)]
    public void ArtSchedule_Lambda_MatchesSpecTable(int artEpoch, double expected, int digits)
    {
        var lambda = ArtSchedule.Lambda(5e-6, 1.05, 60, 60 + artEpoch);
        var scale = Math.Pow(10, digits - 1 - (int)Math.Floor(Math.Log10(lambda)));
        Assert.AreEqual(expected, Math.Round(lambda * scale) / scale, expected * 1e-9, $"λ at ART epoch {artEpoch} = {lambda:E6}");
    }

    [TestMethod]
    public void ArtSchedule_Lambda_FirstArtEpochUsesLambdaInit()
    {
        // e = E_warm → η^0 = 1 exactly; the exponent counts from the global epoch, not from 1.
        Assert.AreEqual(5e-6, ArtSchedule.Lambda(5e-6, 1.05, 60, 60));
        Assert.AreEqual(5e-6 * 1.05, ArtSchedule.Lambda(5e-6, 1.05, 60, 61), 1e-20);
        Assert.AreEqual(2e-4, ArtSchedule.Lambda(2e-4, 1.1, 0, 0));
        Assert.AreEqual(2e-4 * 1.1 * 1.1, ArtSchedule.Lambda(2e-4, 1.1, 0, 2), 1e-18);
        // ×10 about every 47 epochs (§2.4): 1.05^47 ≈ 9.9.
        Assert.AreEqual(9.9, ArtSchedule.Lambda(1, 1.05, 60, 107), 0.05);
    }

    [TestMethod]
    [DataRow(0, 0.1)]
    [DataRow(79, 0.1)]
    [DataRow(80, 0.01)]
    [DataRow(119, 0.01)]
    [DataRow(120, 0.001)]
    [DataRow(159, 0.001)]
    public void ArtSchedule_StepLearningRate_DecaysAtFineTuneEpochs80And120(int fineTuneEpoch, double expected)
    {
        Assert.AreEqual(expected, ArtSchedule.StepLearningRate(0.1, 0.1, new[] { 80, 120 }, fineTuneEpoch), 1e-15);
    }

    [TestMethod]
    public void ArtSchedule_StepLearningRate_NoStepsKeepsBaseRate()
    {
        Assert.AreEqual(0.1, ArtSchedule.StepLearningRate(0.1, 0.1, Array.Empty<int>(), 500));
        Assert.AreEqual(0.5 * 0.2, ArtSchedule.StepLearningRate(0.5, 0.2, new[] { 3 }, 3), 1e-15);
    }
}
