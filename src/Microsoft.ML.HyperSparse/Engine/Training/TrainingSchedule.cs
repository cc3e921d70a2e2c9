namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// The part of a run's schedule that may change between epochs: the phase lengths, the fine-tune LR steps and ART's λ
/// path. Without a time budget it is the options' schedule and never changes; with one, <see cref="BudgetPlanner"/>
/// adjusts it after every epoch. Saved in checkpoints (plain properties, so it serialises as JSON).
/// </summary>
/// <remarks>
/// λ for ART epoch k (0-based) is <c>LambdaAnchor · LambdaGrowth^(k − AnchorArtEpoch)</c>. With a constant η the anchor
/// stays (λ_init, 0) and this is the paper's λ_init · η^(e − E_warm). When η changes after ART epoch j, the anchor moves
/// to (λ_j, j): λ is continuous and grows by the new η from epoch j + 1 on. λ is constant within an epoch.
/// </remarks>
internal sealed class TrainingSchedule
{
    public int WarmupEpochs { get; set; }
    public int MaxArtEpochs { get; set; }
    public int FineTuneEpochs { get; set; }
    /// <summary>Fine-tune epochs (0-based, phase-relative) at which the LR is multiplied by the decay.</summary>
    public int[] LearningRateSteps { get; set; } = [];
    /// <summary>λ of the first ART epoch.</summary>
    public double LambdaInit { get; set; }
    /// <summary>η in effect for the ART epochs after <see cref="AnchorArtEpoch"/>.</summary>
    public double LambdaGrowth { get; set; }
    public double LambdaAnchor { get; set; }
    public int AnchorArtEpoch { get; set; }

    public static TrainingSchedule From(TrainingOptions options) => new()
    {
        WarmupEpochs = options.WarmupEpochs,
        MaxArtEpochs = options.MaxArtEpochs,
        FineTuneEpochs = options.FineTuneEpochs,
        LearningRateSteps = options.LearningRateSteps.ToArray(),
        LambdaInit = options.LambdaInit,
        LambdaGrowth = options.LambdaGrowth,
        LambdaAnchor = options.LambdaInit,
        AnchorArtEpoch = 0,
    };

    /// <summary>λ of ART epoch <paramref name="artEpoch"/> (0-based).</summary>
    public double Lambda(int artEpoch) => LambdaAnchor * Math.Pow(LambdaGrowth, artEpoch - AnchorArtEpoch);

    /// <summary>Sets λ_init and η before the first ART epoch.</summary>
    public void SetLambdaPath(double lambdaInit, double lambdaGrowth)
    {
        LambdaInit = lambdaInit;
        LambdaGrowth = lambdaGrowth;
        LambdaAnchor = lambdaInit;
        AnchorArtEpoch = 0;
    }

    /// <summary>From ART epoch <paramref name="lastArtEpoch"/> + 1 on, λ grows by <paramref name="lambdaGrowth"/> per epoch.</summary>
    public void ChangeGrowth(int lastArtEpoch, double lambdaGrowth)
    {
        LambdaAnchor = Lambda(lastArtEpoch);
        AnchorArtEpoch = lastArtEpoch;
        LambdaGrowth = lambdaGrowth;
    }

    public TrainingSchedule Clone()
    {
        var copy = (TrainingSchedule)MemberwiseClone();
        copy.LearningRateSteps = LearningRateSteps.ToArray();
        return copy;
    }
}
