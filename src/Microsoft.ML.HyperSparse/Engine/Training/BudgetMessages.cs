using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// The wording of every <see cref="BudgetPlanner"/> reason, warning and status line, one method per text, taking the figures
/// the decision used. Users read these in logs and reports (warnings also become report notes), and tests match their
/// beginnings ("the cap forces the prune", "shortened", …): change the wording here, and only on purpose.
/// </summary>
/// <remarks>All numbers are formatted with the invariant culture, so a log reads the same on every machine.</remarks>
internal static class BudgetMessages
{
    // ---------------------------------------------------------------- start and progress

    /// <summary>Reason of the <see cref="PlanSetting.TimeBudget"/> record: which knobs are planned and which kept (as "Knob = value").</summary>
    public static string Plans(IReadOnlyCollection<ScheduleKnobs> planned, IReadOnlyCollection<string> kept) =>
        "plans " + (planned.Count == 0 ? "nothing" : string.Join(", ", planned)) + " from measured epoch times" +
        (kept.Count == 0 ? "" : "; kept as set: " + string.Join(", ", kept)) + ".";

    /// <summary>One line for progress: used, left, and the current plan.</summary>
    public static string Status(double used, double budget, string plan) =>
        F($"Budget: {used:F1} s of {budget:F0} s used, {Math.Max(0, budget - used):F1} s left; plan: {plan}");

    public static string OneShotPlan(int warmupEpochs, int fineTuneEpochs) => F($"warm-up {warmupEpochs}, fine-tune {fineTuneEpochs}");

    public static string ArtPlan(int warmupEpochs, int artEpochs, int fineTuneEpochs) =>
        F($"warm-up {warmupEpochs}, ART ≤ {artEpochs}, fine-tune {fineTuneEpochs}");

    // ---------------------------------------------------------------- warm-up

    public static string WarmupLength(double share, double budget, double warmupCost, bool endsNow) =>
        F($"{share:P0} of the {budget:F0} s budget at {warmupCost:F2} s per warm-up epoch") + (endsNow ? " (warm-up ends now)" : "") + ".";

    public static string FixedWarmupTooLong(int warmupEpochs, double warmupEnd, double warmupCost, double minimum, int artEpochs, double budget) =>
        F($"ART will not stop within the budget: the fixed warm-up of {warmupEpochs} epochs ends at ≈{warmupEnd:F0} s at {warmupCost:F2} s per epoch, leaving less than the {minimum:F0} s needed for {artEpochs} ART epochs and the minimum fine-tune of the {budget:F0} s budget.");

    // ---------------------------------------------------------------- ART

    public static string OnlyOneArtEpoch(double artCost, double reserve) =>
        F($"only one ART epoch (≈{artCost:F1} s) fits before the minimum fine-tune ({reserve:F0} s): ART runs at the estimated firing λ, without the sweep up to it that lets the stop rule choose; a longer budget gives ART room.");

    public static string BudgetTooShort(double left, double artCost, double reserve) =>
        F($"the budget is too short for this network and data: {Math.Max(0, left):F0} s are left after warm-up, but one ART epoch (≈{artCost:F1} s) and the minimum fine-tune ({reserve:F0} s) need {artCost + reserve:F0} s; the run will end ≈{artCost + reserve - left:F0} s past the budget.");

    // artCostRatio: Null once an ART epoch was measured; else the ratio the warm-up epoch time was scaled by.
    public static string ArtCapPlanned(double left, double reserve, double artCost, double? artCostRatio) =>
        F($"ART epochs that fit in the {left:F0} s left after keeping {reserve:F0} s for fine-tuning, at ≈{artCost:F2} s per ART epoch ({(artCostRatio is { } ratio ? F($"{ratio}× the warm-up epoch, until one is measured") : "measured")}).");

    /// <summary>The common end of the λ_init and η reasons: what the λ path was planned from.</summary>
    public static string LambdaPathBasis(double firingLambda, int plannedArtEpochs, double artShare, int cap) =>
        F($"λ* ≈ {firingLambda:0.##e+0} (first guess for this network, learning rate and steps per epoch); ART is planned to stop within ≈{plannedArtEpochs} epochs ({artShare:P0} of the budget) and may run {cap} before the minimum fine-tune");

    public static string LambdaInitBelowFiring(double lambdaInit, double firingLambda, string basis) =>
        F($"λ sweeps up from λ*/{firingLambda / lambdaInit:0.#}; {basis}.");

    public static string LambdaInitAtFiring(double lambdaInit, double firingLambda, string basis) =>
        F($"{lambdaInit / firingLambda:0.#}·λ*: so few ART epochs fit that λ starts in the range where the stop rule should fire; {basis}.");

    public static string LambdaGrowthPlanned(double lambdaInit, double firingLambda, double growth, double firingMargin, int cap, string basis) =>
        F($"{(lambdaInit >= firingLambda ? "λ starts at or above λ*" : $"λ reaches λ* in ART epoch {1 + (int)Math.Ceiling(Math.Log(firingLambda / lambdaInit) / Math.Log(growth))}")} and {firingMargin}·λ* by epoch {cap} at the latest; {basis}.");

    public static string CapForcesPrune(double left, double reserve, double artCost, double lambda, double firingLambda) =>
        F($"the cap forces the prune now: the {Math.Max(0, left):F0} s left fit only the minimum fine-tune ({reserve:F0} s), not another ART epoch ({artCost:F2} s); λ reached {lambda:0.##e+0} (λ* ≈ {firingLambda:0.##e+0}).");

    public static string ArtEndsShortOfMargin(int artEpochs, double artCost, double lambda, double firingMargin, double firingLambda) =>
        F($"ART ends after {artEpochs} epoch(s) of {artCost:F2} s (the time left fits only the minimum fine-tune): λ reached {lambda:0.##e+0}, short of {firingMargin}·λ* ≈ {firingMargin * firingLambda:0.##e+0} (λ* as estimated from the gaps so far); the cap forces the prune before the stop rule has had its full chance (a longer budget would give it one).");

    public static string ArtCapReplanned(double reserve, double artCost) =>
        F($"ART epochs that fit before the minimum fine-tune ({reserve:F0} s) at {artCost:F2} s per ART epoch (measured).");

    public static string FixedArtCapOverrun(double left, double reserve, int maxArtEpochs) =>
        F($"ART will not stop within the budget: its time is used up ({Math.Max(0, left):F0} s left, {reserve:F0} s kept for fine-tuning) but MaxArtEpochs = {maxArtEpochs} was set explicitly, so ART continues until its stop rule fires or that cap.");

    // closing: pp the gap closes per e-fold of λ (minus the fitted slope).
    public static string FiringLambdaRaised(double gap, double lambda, double closing, int points, double needed, double old, double maxRaise) =>
        F($"the pruned copy is not closing on the dense model fast enough: gap {gap:F1} pp at λ {lambda:0.##e+0}, closing {closing:F1} pp per e-fold of λ over the last {points} ART epochs, so the stop rule needs λ ≈ {needed:0.##e+0} (estimate was {old:0.##e+0}; raised at most {maxRaise}× per epoch).");

    // closing: pp the gap closes per e-fold of λ (minus the fitted slope).
    public static string FiringLambdaStalled(double gap, double lambda, double closing, int points, double old) =>
        F($"the gap is not closing (gap {gap:F1} pp at λ {lambda:0.##e+0}, {closing:F1} pp per e-fold of λ over the last {points} ART epochs) although λ is near the estimate {old:0.##e+0}.");

    public static string GrowthLowered(double previous, double lambda, double firingMargin, double firingLambda) =>
        F($"lowered from {previous:0.####}: λ ({lambda:0.##e+0}) is past {firingMargin}·λ* ≈ {firingMargin * firingLambda:0.##e+0}, the whole range where the stop rule was expected to fire; it keeps growing slowly until the stop rule fires or the cap forces the prune.");

    // afterArtEpoch: ART epochs done (1-based number of the epoch just finished).
    // reachArtEpoch: 1-based ART epoch by which λ* is to be reached.
    // lastArtEpoch: 1-based last ART epoch that fits.
    public static string GrowthRaised(double old, int afterArtEpoch, double lambda, double firingLambda, int reachArtEpoch, double firingMargin, int lastArtEpoch, double artCost) =>
        F($"raised from {old:0.####} for the ART epochs after {afterArtEpoch}: λ (now {lambda:0.##e+0}) must reach λ* ≈ {firingLambda:0.##e+0} by ART epoch {reachArtEpoch} and {firingMargin}·λ* by epoch {lastArtEpoch}, the last that fits before the minimum fine-tune at {artCost:F2} s per ART epoch.");

    public static string GrowthCapped(double maxGrowth, int remaining, double reached, double firingMargin, double firingLambda) =>
        F($"λ can grow at most ×{maxGrowth} per epoch; with {remaining} ART epoch(s) left it reaches {reached:0.##e+0}, short of {firingMargin}·λ* ≈ {firingMargin * firingLambda:0.##e+0}: the cap may force the prune before the stop rule has had its full chance.");

    // fixedKnobs: The fixed λ knobs as "Knob = value", joined with " and ".
    // lastArtEpoch: 1-based last ART epoch that fits.
    public static string ArtPredictedNotToStop(string fixedKnobs, double finalLambda, int lastArtEpoch, double firingLambda) =>
        F($"ART is predicted not to stop within the budget: with {fixedKnobs} set explicitly, λ reaches only {finalLambda:0.##e+0} by ART epoch {lastArtEpoch}, the last that fits, below the ≈{firingLambda:0.##e+0} where the stop rule is expected to fire; the cap will likely force the prune.");

    // ---------------------------------------------------------------- fine-tune

    public static string MinimumFineTunePastBudget(double left, double fineTuneCost, int minEpochs, int epochs) =>
        F($"the budget is nearly used ({Math.Max(0, left):F0} s left at ≈{fineTuneCost:F2} s per fine-tune epoch): the minimum fine-tune of {minEpochs} epochs runs anyway, ≈{epochs * fineTuneCost - left:F0} s past the budget.");

    // measured: False while the fine-tune epoch time is still the warm-up's.
    public static string FineTuneFillsTimeLeft(double left, double fineTuneCost, bool measured) =>
        F($"the {left:F0} s left at ≈{fineTuneCost:F2} s per fine-tune epoch{(!measured ? " (a warm-up epoch's time until one is measured)" : "")}.");

    public static string LearningRateStepsPlanned(int fineTuneEpochs) =>
        F($"at 1/2 and 3/4 of the {fineTuneEpochs} fine-tune epochs, as the paper's 80 and 120 of 160.");

    // more: Fine-tune epochs still to run at the current length.
    public static string FineTuneShortened(int current, double fineTuneCost, int more, double left) =>
        F($"shortened from {current}: fine-tune epochs take {fineTuneCost:F2} s, so {more} more would end ≈{more * fineTuneCost - left:F0} s past the budget.");

    // more: Fine-tune epochs still to run at the new length.
    public static string FineTuneLengthened(int current, double fineTuneCost, int more) =>
        F($"lengthened from {current}: fine-tune epochs take {fineTuneCost:F2} s, leaving time for {more} more within the budget.");

    public static string LearningRateStepsMoved(int fineTuneEpochs) =>
        F($"moved with the fine-tune length ({fineTuneEpochs} epochs); steps already applied stay.");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
