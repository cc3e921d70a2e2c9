using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

internal sealed partial class BudgetPlanner
{
    private void PlanArt(EpochObservation epoch, TrainingSchedule schedule)
    {
        State.ArtPlanned = true;
        var m = settings.StopWindowHalfSize;
        var a = ArtCost();
        var left = Budget - epoch.ElapsedSeconds;
        var reserve = FineTuneReserve(schedule, FineTuneCost());
        var fit = Math.Max(1, (int)((left - reserve) / a));
        // Every phase runs at least once (the paper's rules); a budget that cannot hold that is said so, not hidden.
        if (left - reserve < 2 * a && left - reserve >= a)
            Warn(epoch, WarningKind.OneArtEpoch, BudgetMessages.OnlyOneArtEpoch(a, reserve));
        if (left - reserve < a)
            Warn(epoch, WarningKind.TooShort, BudgetMessages.BudgetTooShort(left, a, reserve));
        if (!IsFixed(ScheduleKnobs.MaxArtEpochs))
        {
            schedule.MaxArtEpochs = Math.Min(settings.SafetyArtCap, fit);
            Decide(epoch, PlanSetting.MaxArtEpochs, schedule.MaxArtEpochs.ToString(CultureInfo.InvariantCulture),
                BudgetMessages.ArtCapPlanned(left, reserve, a, State.ArtCosts.Count == 0 ? policy.ArtCostRatio : null));
        }
        var cap = Math.Min(schedule.MaxArtEpochs, fit);
        var planned = Math.Clamp((int)(policy.ArtShare * Budget / a), 1, cap);
        // The epoch (0-based) by which λ reaches λ*: leave the stop window's m epochs before the cap.
        var reach = Math.Max(1, Math.Min((int)Math.Round(policy.ReachFraction * planned) - 1, cap - 1 - m));

        State.ReachArtEpoch = reach;
        State.FiringLambda = settings.FiringLambdaGuess;
        var target = State.FiringLambda;
        var lambdaInit = schedule.LambdaInit;
        var growth = schedule.LambdaGrowth;
        var plansInit = !IsFixed(ScheduleKnobs.LambdaInit);
        var plansGrowth = !IsFixed(ScheduleKnobs.LambdaGrowth);
        if (plansInit && plansGrowth)
        {
            growth = Math.Pow(policy.SweepRange, 1.0 / reach);
            lambdaInit = target / policy.SweepRange;
            if (growth > policy.MaxGrowth)
            {
                growth = policy.MaxGrowth;
                lambdaInit = target / Math.Pow(growth, reach);
            }
            growth = Math.Max(growth, policy.MinGrowth);
            // The stop rule must get its chance: FiringMargin·λ* by the last ART epoch that fits — planned for ART epochs
            // twice as slow as the guess (it is only a guess until the first is measured; η cannot undo a λ_init too low).
            // With a single ART epoch there is nothing to sweep: it runs at λ* (the warning above says the budget is short).
            var sure = cap >= 2 ? Math.Max(2, cap / policy.ArtSlowdownAllowance) : 1;
            var wanted = sure >= 2 ? policy.FiringMargin * target : target;
            if (sure >= 2 && lambdaInit * Math.Pow(growth, sure - 1) < wanted)
                growth = Math.Min(policy.MaxGrowth, Math.Pow(wanted / lambdaInit, 1.0 / (sure - 1)));
            if (lambdaInit * Math.Pow(growth, sure - 1) < wanted)
                lambdaInit = wanted / Math.Pow(growth, sure - 1);
        }
        else if (plansGrowth)   // λ_init fixed: η alone takes λ to λ*
            growth = Math.Clamp(lambdaInit >= target ? policy.MinGrowth : Math.Pow(target / lambdaInit, 1.0 / reach), policy.MinGrowth, policy.MaxGrowth);
        else if (plansInit)     // η fixed: λ_init is set so that it reaches λ* at the reach epoch
            lambdaInit = target / Math.Pow(growth, reach);
        schedule.SetLambdaPath(lambdaInit, growth);
        var basis = BudgetMessages.LambdaPathBasis(target, planned, policy.ArtShare, cap);
        if (plansInit)
            Decide(epoch, PlanSetting.LambdaInit, F($"{lambdaInit:0.###e+0}"), lambdaInit < target
                ? BudgetMessages.LambdaInitBelowFiring(lambdaInit, target, basis)
                : BudgetMessages.LambdaInitAtFiring(lambdaInit, target, basis));
        if (plansGrowth)
            Decide(epoch, PlanSetting.LambdaGrowth, F($"{growth:0.####}"),
                BudgetMessages.LambdaGrowthPlanned(lambdaInit, target, growth, policy.FiringMargin, cap, basis));
        PredictFiring(epoch, schedule, -1, cap, replanning: false);
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            schedule.FineTuneEpochs = Math.Max(policy.MinFineTuneEpochs, (int)((left - planned * a) / FineTuneCost()));
    }

    private void AfterArtEpoch(EpochObservation epoch, TrainingSchedule schedule)
    {
        if (!State.ArtPlanned) PlanArt(epoch, schedule);   // resumed from a checkpoint written before this planner existed
        var k = epoch.PhaseEpoch + 1;   // ART epochs done
        var a = ArtCost();
        var reserve = FineTuneReserve(schedule, FineTuneCost());
        var left = Budget - epoch.ElapsedSeconds;
        var fit = (int)Math.Floor((left - reserve) / a);   // further ART epochs that fit before the minimum fine-tune
        UpdateFiringLambda(epoch);

        if (!IsFixed(ScheduleKnobs.MaxArtEpochs))
        {
            var cap = Math.Min(settings.SafetyArtCap, k + Math.Max(0, fit));
            if (fit <= 0 && !epoch.StopRuleFired)
            {
                schedule.MaxArtEpochs = k;
                Decide(epoch, PlanSetting.MaxArtEpochs, k.ToString(CultureInfo.InvariantCulture),
                    BudgetMessages.CapForcesPrune(left, reserve, a, epoch.Lambda, State.FiringLambda));
                if (epoch.Lambda < policy.FiringMargin * State.FiringLambda)
                    Warn(epoch, WarningKind.ShortArt, BudgetMessages.ArtEndsShortOfMargin(k, a, epoch.Lambda, policy.FiringMargin, State.FiringLambda));
            }
            // The cap only bites at the end (above); until then it is a projection, re-recorded when it moves by a quarter.
            else if (fit > 0 && Math.Abs(cap - schedule.MaxArtEpochs) >= Math.Max(1, schedule.MaxArtEpochs / policy.ArtCapReplanDivisor))
            {
                schedule.MaxArtEpochs = cap;
                Decide(epoch, PlanSetting.MaxArtEpochs, cap.ToString(CultureInfo.InvariantCulture), BudgetMessages.ArtCapReplanned(reserve, a));
            }
        }
        else if (fit <= 0 && !epoch.StopRuleFired && k < schedule.MaxArtEpochs)
            Warn(epoch, WarningKind.FixedArtCap, BudgetMessages.FixedArtCapOverrun(left, reserve, schedule.MaxArtEpochs));

        if (epoch.StopRuleFired || k >= schedule.MaxArtEpochs)
        {
            PlanFineTune(epoch, schedule);
            return;
        }
        // Epochs still to come within the cap and the budget (explicit caps win, but the budget still sets the pace).
        var remaining = Math.Max(1, Math.Min(schedule.MaxArtEpochs - k, IsFixed(ScheduleKnobs.MaxArtEpochs) ? Math.Max(1, fit) : int.MaxValue));
        if (!IsFixed(ScheduleKnobs.LambdaGrowth)) RaiseGrowth(epoch, schedule, remaining);
        PredictFiring(epoch, schedule, epoch.PhaseEpoch, remaining, replanning: true);
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            schedule.FineTuneEpochs = Math.Max(policy.MinFineTuneEpochs, (int)((left - Math.Min(remaining, Math.Max(0, fit)) * a) / FineTuneCost()));
    }

    /// <summary>
    /// Raises η so that λ reaches λ* by the planned epoch (once that has passed without the stop rule firing: halfway to the
    /// cap; at least 3 epochs ahead when there is room), always with the stop window's m epochs to spare, and FiringMargin·λ*
    /// by the cap. Lowers it (to <see cref="BudgetPolicy.MinGrowth"/>) only once λ is past FiringMargin·λ*.
    /// </summary>
    private void RaiseGrowth(EpochObservation epoch, TrainingSchedule schedule, int remaining)
    {
        var m = settings.StopWindowHalfSize;
        var lambda = schedule.Lambda(epoch.PhaseEpoch);
        if (!(lambda > 0)) return;
        var target = State.FiringLambda;
        if (lambda >= policy.FiringMargin * target)
        {
            // Past the whole range where the stop rule was expected to fire (and λ* is at its ceiling, or the gap has
            // closed): growing λ faster would only wipe out the dense model. Back to slow growth; the cap decides.
            if (schedule.LambdaGrowth > policy.MinGrowth)
            {
                var previous = schedule.LambdaGrowth;
                schedule.ChangeGrowth(epoch.PhaseEpoch, policy.MinGrowth);
                Decide(epoch, PlanSetting.LambdaGrowth, F($"{policy.MinGrowth}"),
                    BudgetMessages.GrowthLowered(previous, lambda, policy.FiringMargin, target));
            }
            return;
        }
        var reachIn = State.ReachArtEpoch - epoch.PhaseEpoch;
        if (reachIn <= 0) reachIn = Math.Max(1, (remaining - m) / policy.LateReachDivisor);
        // A new λ* is approached over at least 3 epochs when there is room: no single jump of λ.
        reachIn = Math.Clamp(Math.Max(reachIn, policy.MinReachEpochs), 1, Math.Max(1, remaining - m));
        var required = schedule.LambdaGrowth;
        if (lambda < target) required = Math.Max(required, Math.Pow(target / lambda, 1.0 / reachIn));
        required = Math.Max(required, Math.Pow(policy.FiringMargin * target / lambda, 1.0 / remaining));
        if (required <= schedule.LambdaGrowth * policy.GrowthChangeTolerance) return;
        var old = schedule.LambdaGrowth;
        var growth = Math.Min(policy.MaxGrowth, required);
        if (growth > old)
        {
            schedule.ChangeGrowth(epoch.PhaseEpoch, growth);
            State.ReachArtEpoch = epoch.PhaseEpoch + reachIn;
            Decide(epoch, PlanSetting.LambdaGrowth, F($"{growth:0.####}"),
                BudgetMessages.GrowthRaised(old, epoch.PhaseEpoch + 1, lambda, target, epoch.PhaseEpoch + 1 + reachIn, policy.FiringMargin, epoch.PhaseEpoch + 1 + remaining, ArtCost()));
        }
        if (required > policy.MaxGrowth)
            Warn(epoch, WarningKind.MaxGrowth,
                BudgetMessages.GrowthCapped(policy.MaxGrowth, remaining, lambda * Math.Pow(policy.MaxGrowth, remaining), policy.FiringMargin, target));
    }

    /// <summary>
    /// With λ_init/η fixed by the user: warns (once) when λ will not reach λ* before the last ART epoch that fits. When
    /// <paramref name="replanning"/> (after an ART epoch) and η is the planner's, it stays silent: η may still be raised.
    /// </summary>
    private void PredictFiring(EpochObservation epoch, TrainingSchedule schedule, int lastArtEpoch, int remaining, bool replanning)
    {
        if (!IsFixed(ScheduleKnobs.LambdaGrowth) && !IsFixed(ScheduleKnobs.LambdaInit)) return;
        if (!IsFixed(ScheduleKnobs.LambdaGrowth) && replanning) return;   // η is still the planner's to raise
        var final = schedule.Lambda(lastArtEpoch + remaining);
        if (final >= State.FiringLambda) return;
        var fixedText = string.Join(" and ", new[] { ScheduleKnobs.LambdaInit, ScheduleKnobs.LambdaGrowth }.Where(IsFixed).Select(k => F($"{k} = {Value(k, schedule)}")));
        Warn(epoch, WarningKind.FixedLambda, BudgetMessages.ArtPredictedNotToStop(fixedText, final, lastArtEpoch + 1 + remaining, State.FiringLambda));
    }
}
