namespace Microsoft.ML.HyperSparse.Engine.Training;

internal sealed partial class BudgetPlanner
{
    // Epoch times on a shared machine jump by 2× from one epoch to the next; medians keep one slow or fast epoch from
    // re-planning the run, and still follow a lasting change within a few epochs.

    /// <summary>Warm-up epoch time: the median of the last 8 after the first (which also pays for set-up) once there are two.</summary>
    private double WarmupCost()
    {
        var costs = State.WarmupCosts;
        if (costs.Count == 0) return Math.Max(policy.MinEpochSeconds, Budget / policy.UnmeasuredEpochDivisor);
        return Math.Max(policy.MinEpochSeconds, costs.Count == 1 ? costs[0] : Median(costs.Skip(1).TakeLast(policy.WarmupCostWindow)));
    }

    /// <summary>ART epoch time (pruning probe included): the median of the last 5, or a guess from the warm-up before the first.</summary>
    private double ArtCost() => State.ArtCosts.Count > 0
        ? Math.Max(policy.MinEpochSeconds, Median(State.ArtCosts.TakeLast(policy.ArtCostWindow)))
        : policy.ArtCostRatio * WarmupCost();

    /// <summary>
    /// Fine-tune epoch time: the median of the last 16 fine-tune epochs, filled up to 3 samples with the warm-up epoch time
    /// (the same pass over the data) while there are fewer: one slow or fast epoch early in the fine-tune does not re-plan
    /// it, a lasting change does within a few epochs.
    /// </summary>
    private double FineTuneCost()
    {
        var samples = State.FineTuneCosts.TakeLast(policy.FineTuneCostWindow).ToList();
        var prior = WarmupCost();
        while (samples.Count < policy.FineTuneCostMinSamples) samples.Add(prior);
        return Math.Max(policy.MinEpochSeconds, Median(samples));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        var n = sorted.Count;
        return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Time kept for fine-tuning: the fixed length, or the minimum share/epochs.</summary>
    private double FineTuneReserve(TrainingSchedule schedule, double f) => IsFixed(ScheduleKnobs.FineTuneEpochs)
        ? schedule.FineTuneEpochs * f
        : Math.Max(policy.MinFineTuneShare * Budget, policy.MinFineTuneEpochs * f);

    // ---------------------------------------------------------------- firing level λ*

    private double MaxFiringLambda => policy.MaxFiringFactor * settings.FiringLambdaGuess;

    /// <summary>
    /// Raises λ* when the gap closes too slowly. The gap is modelled as linear in ln λ over the last ART epochs (it closes as
    /// λ grows geometrically); the λ where that line crosses −0.5 pp is where the stop rule is expected to fire.
    /// </summary>
    private void UpdateFiringLambda(EpochObservation epoch)
    {
        var gaps = State.Gaps;
        if (gaps.Count < 2 || State.FiringLambda <= 0) return;
        var last = gaps[^1];
        if (last.Gap <= 0 || !(last.Lambda > 0)) return;
        // Early in the sweep (λ ≪ λ*) little closing is expected; judge the pace only from λ*/4 on.
        if (last.Lambda < State.FiringLambda / policy.GapJudgeDivisor) return;
        var points = gaps.TakeLast(policy.GapWindow).Where(g => g.Lambda > 0).ToList();
        if (points.Count < 2) return;
        var slope = Slope(points.Select(p => Math.Log(p.Lambda)).ToList(), points.Select(p => p.Gap).ToList());
        var old = State.FiringLambda;
        if (old >= MaxFiringLambda) return;
        if (slope < -policy.ClosingSlope)
        {
            var needed = last.Lambda * Math.Exp((last.Gap + policy.FiringGap) / -slope);
            if (needed > old * policy.FiringRaiseThreshold)
            {
                State.FiringLambda = Math.Min(Math.Min(needed, old * policy.MaxFiringRaisePerEpoch), MaxFiringLambda);
                Decide(epoch, PlanSetting.FiringLambda, F($"{State.FiringLambda:0.##e+0}"),
                    BudgetMessages.FiringLambdaRaised(last.Gap, last.Lambda, -slope, points.Count, needed, old, policy.MaxFiringRaisePerEpoch));
            }
        }
        else if (last.Lambda >= old / policy.StalledNearDivisor)
        {
            State.FiringLambda = Math.Min(Math.Max(old, last.Lambda) * policy.StalledFiringRaise, MaxFiringLambda);
            Decide(epoch, PlanSetting.FiringLambda, F($"{State.FiringLambda:0.##e+0}"),
                BudgetMessages.FiringLambdaStalled(last.Gap, last.Lambda, -slope, points.Count, old));
        }
    }

    /// <summary>Least-squares slope of <paramref name="y"/> over <paramref name="x"/> (0 when the x are all equal).</summary>
    private static double Slope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var mx = x.Average();
        var my = y.Average();
        double sxy = 0, sxx = 0;
        for (var i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxx <= 1e-12 ? 0 : sxy / sxx;
    }
}
