using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// Every hand-tuned number the <see cref="BudgetPlanner"/> steers by, in one place. <see cref="Default"/> is what a
/// time-budgeted run uses; tests and experiments may pass a copy with a member changed (<c>Default with { … }</c>).
/// </summary>
/// <remarks>
/// Where a value was measured, its member says where; "chosen, not measured" means nothing in the repository records
/// where it came from. Some members are integer divisors rather than fractions on purpose: the planner divides by them
/// (integer division for epoch counts), and a fraction would round differently and so change decisions.
/// </remarks>
internal sealed record BudgetPolicy
{
    /// <summary>The policy a time-budgeted run uses.</summary>
    public static BudgetPolicy Default { get; } = new();

    // ---------------------------------------------------------------- shares of the budget

    /// <summary>Share of the budget for the dense warm-up (the paper: 60 of ≈270 epochs).</summary>
    public double WarmupShare { get; init; } = 0.25;
    /// <summary>Warm-up share for one-shot magnitude pruning: warm-up and ART's share go to dense training.</summary>
    public double OneShotWarmupShare { get; init; } = 0.55;
    /// <summary>Share of the budget within which ART is planned to stop (chosen, not measured).</summary>
    public double ArtShare { get; init; } = 0.30;
    /// <summary>Time always kept for fine-tuning: this share of the budget, and at least <see cref="MinFineTuneEpochs"/> epochs.</summary>
    public double MinFineTuneShare { get; init; } = 0.15;
    /// <summary>Fine-tune epochs that always run, even past the budget (chosen, not measured).</summary>
    public int MinFineTuneEpochs { get; init; } = 3;

    // ---------------------------------------------------------------- warm-up

    /// <summary>Warm-up epochs measured before warm-up may end: the first also pays for set-up (and on a busy machine for whatever else starts with it).</summary>
    public int MeasuredWarmupEpochs { get; init; } = 2;
    /// <summary>…unless those epochs would take more than this share of the budget (chosen, not measured).</summary>
    public double MeasuredWarmupMaxShare { get; init; } = 0.5;
    /// <summary>Hysteresis: a later warm-up measurement moves the length only by at least 1/this of it (20 %; chosen, not measured).</summary>
    public int WarmupReplanDivisor { get; init; } = 5;

    // ---------------------------------------------------------------- λ path (ART)

    /// <summary>ART epoch ÷ warm-up epoch time before an ART epoch was measured (docs/bench-size.md: 1.4 LeNet-5, 1.2 ResNet-20).</summary>
    public double ArtCostRatio { get; init; } = 1.4;
    /// <summary>λ starts at λ*/16 and sweeps up to λ*: ART explores at small λ first, as in the paper.</summary>
    public double SweepRange { get; init; } = 16;
    /// <summary>λ reaches λ* after this fraction of the planned ART epochs, leaving room for the stop window.</summary>
    public double ReachFraction { get; init; } = 0.75;
    /// <summary>By the last ART epoch that fits, λ has reached this multiple of λ*: the stop rule gets its chance.</summary>
    public double FiringMargin { get; init; } = 4;
    /// <summary>
    /// λ* is never raised past this multiple of the first guess: a gap that does not close at λ that large is not one more λ
    /// can close, and a still larger λ would only wipe out the dense model.
    /// </summary>
    public double MaxFiringFactor { get; init; } = 64;
    /// <summary>Smallest η the planner sets: λ keeps growing slowly, so the stop rule still sees new λ (chosen, not measured).</summary>
    public double MinGrowth { get; init; } = 1.05;
    /// <summary>Largest η the planner sets: larger jumps of λ per epoch would skip the range where the stop rule fires (chosen, not measured).</summary>
    public double MaxGrowth { get; init; } = 3.0;
    /// <summary>The first λ path is planned for ART epochs this many times slower than guessed (cap ÷ this): η cannot undo a λ_init too low.</summary>
    public int ArtSlowdownAllowance { get; init; } = 2;
    /// <summary>A new λ* is approached over at least this many epochs when there is room: no single jump of λ (chosen, not measured).</summary>
    public int MinReachEpochs { get; init; } = 3;
    /// <summary>Once the planned reach epoch has passed without the stop rule firing, λ* is aimed at 1/this of the way to the cap (halfway; chosen, not measured).</summary>
    public int LateReachDivisor { get; init; } = 2;
    /// <summary>η is raised only when the required η exceeds the current one by more than this factor: no decision for rounding noise.</summary>
    public double GrowthChangeTolerance { get; init; } = 1.001;
    /// <summary>Hysteresis: the projected ART cap is re-recorded only when it moves by at least 1/this of it (a quarter; chosen, not measured).</summary>
    public int ArtCapReplanDivisor { get; init; } = 4;

    // ---------------------------------------------------------------- firing level λ* from the gaps

    /// <summary>Gaps are judged only from λ*/this on: early in the sweep (λ ≪ λ*) little closing is expected (chosen, not measured).</summary>
    public double GapJudgeDivisor { get; init; } = 4;
    /// <summary>The gap's pace is fitted over the last this many ART epochs (chosen, not measured).</summary>
    public int GapWindow { get; init; } = 4;
    /// <summary>A gap closing faster than this many pp per e-fold of λ is closing; extrapolated from (chosen, not measured).</summary>
    public double ClosingSlope { get; init; } = 0.25;
    /// <summary>The stop rule is expected to fire where the fitted gap line crosses −this pp (chosen, not measured).</summary>
    public double FiringGap { get; init; } = 0.5;
    /// <summary>λ* is raised only when the extrapolation needs more than this multiple of it: no decision for noise (chosen, not measured).</summary>
    public double FiringRaiseThreshold { get; init; } = 1.1;
    /// <summary>λ* is raised at most this many times per ART epoch from the extrapolation (chosen, not measured).</summary>
    public double MaxFiringRaisePerEpoch { get; init; } = 4;
    /// <summary>A gap that is not closing although λ is past λ*/this raises λ* by <see cref="StalledFiringRaise"/> (chosen, not measured).</summary>
    public double StalledNearDivisor { get; init; } = 2;
    /// <summary>Factor λ* (or λ, if larger) is raised by when the gap is not closing near it (chosen, not measured).</summary>
    public double StalledFiringRaise { get; init; } = 2;

    // ---------------------------------------------------------------- fine-tune hysteresis

    /// <summary>The fine-tune is shortened only for an overrun beyond this share of the budget (or one epoch, or <see cref="AheadShare"/> of the time ahead; chosen, not measured).</summary>
    public double ShortenShare { get; init; } = 0.02;
    /// <summary>The fine-tune is lengthened only for a surplus beyond this share of the budget (or one epoch, or <see cref="AheadShare"/> of the time ahead; chosen, not measured).</summary>
    public double LengthenShare { get; init; } = 0.05;
    /// <summary>Share of the fine-tune time still ahead that is tolerated either way: there is time to correct later (chosen, not measured).</summary>
    public double AheadShare { get; init; } = 0.2;

    // ---------------------------------------------------------------- epoch-time estimates

    /// <summary>Before any epoch is measured, an epoch is guessed to take the budget ÷ this (chosen, not measured).</summary>
    public double UnmeasuredEpochDivisor { get; init; } = 100;
    /// <summary>Floor of every epoch-time estimate, in seconds: the planner divides by it.</summary>
    public double MinEpochSeconds { get; init; } = 1e-3;
    /// <summary>Warm-up epoch time: the median of the last this many (after the first); medians ride out a shared machine's 2× jumps.</summary>
    public int WarmupCostWindow { get; init; } = 8;
    /// <summary>ART epoch time: the median of the last this many (chosen, not measured).</summary>
    public int ArtCostWindow { get; init; } = 5;
    /// <summary>Fine-tune epoch time: the median of the last this many (chosen, not measured).</summary>
    public int FineTuneCostWindow { get; init; } = 16;
    /// <summary>The fine-tune median is filled up to this many samples with the warm-up epoch time (the same pass over the data) while there are fewer.</summary>
    public int FineTuneCostMinSamples { get; init; } = 3;

    // ---------------------------------------------------------------- first guess of λ*

    /// <summary>Steps per epoch at which the firing steps were measured (Fashion-MNIST's 60,000 images at batch 256).</summary>
    public int ReferenceStepsPerEpoch { get; init; } = 235;
    /// <summary>
    /// lr·λ at which ART's stop rule fired for LeNet-5 (and the MLP) on Fashion-MNIST at <see cref="ReferenceStepsPerEpoch"/>
    /// steps per epoch (README demo; docs/bench-size.md): 1.7e-4 at κ 0.98 (the same λ at 157 steps; κ 0.9 fired at 2/3 of it).
    /// </summary>
    public double SmallNetFiringStep { get; init; } = 1.7e-4;
    /// <summary>
    /// The same for ResNet-20 (batch norm makes conv weights scale-free, so far more λ is needed): 2.9e-3 at κ 0.9 with 20
    /// steps per epoch, i.e. ≈8.5e-4 at the reference by <see cref="FiringLambdaGuess"/>'s scaling (docs/bench-size.md).
    /// </summary>
    public double BatchNormNetFiringStep { get; init; } = 8.5e-4;

    /// <summary>
    /// The same for a pretrained start (ML.NET's ResNet-18 on 1,000 Fashion-MNIST images, 32 steps per epoch, LR 1e-3, κ 0.98,
    /// stem at unit scale): the pruned copy left chance between λ 2.3e-2 and 3.4e-2 and the stop rule fired at 7.6e-2 with λ
    /// growing ×1.5, i.e. lr·λ ≈ 3.4e-5 at 32 steps, ≈ 1.25e-5 at the reference by <see cref="FiringLambdaGuess"/>'s scaling.
    /// </summary>
    public double PretrainedFiringStep { get; init; } = 1.25e-5;

    /// <summary>lr·λ at which the stop rule is expected to fire for <paramref name="architecture"/>. Only a starting point: the gaps raise it.</summary>
    public double FiringStepGuess(Architecture architecture, bool pretrained = false) => pretrained ? PretrainedFiringStep : architecture switch
    {
        Architecture.LeNet5 or Architecture.Mlp => SmallNetFiringStep,
        _ => BatchNormNetFiringStep,
    };

    /// <summary>
    /// First guess of the λ at which the stop rule fires: <see cref="FiringStepGuess"/>/lr, times √(reference / steps per epoch).
    /// Fewer steps per epoch need a larger λ (LeNet-5 on 3,000 images, 12 steps per epoch, fired near 2.4e-2 instead of
    /// 3.4e-3); the square root sits between "λ per step" and "λ per epoch", which both mispredict one of the measurements.
    /// </summary>
    public double FiringLambdaGuess(Architecture architecture, double learningRate, int stepsPerEpoch, bool pretrained = false) =>
        FiringStepGuess(architecture, pretrained) / learningRate * Math.Sqrt((double)ReferenceStepsPerEpoch / Math.Max(1, stepsPerEpoch));
}
