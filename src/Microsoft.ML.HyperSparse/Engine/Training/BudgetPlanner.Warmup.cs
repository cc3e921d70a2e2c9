using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

internal sealed partial class BudgetPlanner
{
    private void AfterWarmupEpoch(EpochObservation epoch, TrainingSchedule schedule)
    {
        var done = epoch.PhaseEpoch + 1;
        var w = WarmupCost();
        var share = settings.OneShot ? policy.OneShotWarmupShare : policy.WarmupShare;
        if (!IsFixed(ScheduleKnobs.WarmupEpochs))
        {
            var target = Math.Max(1, (int)Math.Round(share * Budget / w));
            // The first epoch also pays for set-up (and on a busy machine for whatever else starts with it): measure a
            // second one before ending warm-up, unless even two epochs would take half the budget.
            if (done == 1 && policy.MeasuredWarmupEpochs * w <= policy.MeasuredWarmupMaxShare * Budget) target = Math.Max(target, policy.MeasuredWarmupEpochs);
            var current = schedule.WarmupEpochs;
            // Hysteresis: the first measurement always sets it; later ones only when it moves by 20 % (at least 1 epoch) or
            // warm-up must end now.
            if (done == 1 || target <= done || Math.Abs(target - current) >= Math.Max(1, current / policy.WarmupReplanDivisor))
            {
                var next = Math.Max(done, target);
                if (next != current || done == 1)
                {
                    schedule.WarmupEpochs = next;
                    Decide(epoch, PlanSetting.WarmupEpochs, next.ToString(CultureInfo.InvariantCulture),
                        BudgetMessages.WarmupLength(share, Budget, w, endsNow: next == done && target < done));
                }
            }
        }
        else if (done == 1)
        {
            var warmupEnd = epoch.ElapsedSeconds + (schedule.WarmupEpochs - done) * w;
            var minimum = (settings.OneShot ? 0 : (settings.StopWindowHalfSize + 1) * policy.ArtCostRatio * w) + FineTuneReserve(schedule, w);
            if (warmupEnd + minimum > Budget)
                Warn(epoch, WarningKind.FixedWarmup,
                    BudgetMessages.FixedWarmupTooLong(schedule.WarmupEpochs, warmupEnd, w, minimum, settings.StopWindowHalfSize + 1, Budget));
        }

        if (done >= schedule.WarmupEpochs)
        {
            if (settings.OneShot) PlanFineTune(epoch, schedule);
            else PlanArt(epoch, schedule);
        }
        else
        {
            // Provisional, for progress displays; replaced when the phase starts.
            var warmupEnd = epoch.ElapsedSeconds + (schedule.WarmupEpochs - done) * w;
            if (!settings.OneShot && !IsFixed(ScheduleKnobs.MaxArtEpochs))
                schedule.MaxArtEpochs = Math.Min(settings.SafetyArtCap, Math.Max(1, (int)((Budget - warmupEnd - FineTuneReserve(schedule, w)) / (policy.ArtCostRatio * w))));
            if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            {
                var artEnd = settings.OneShot ? warmupEnd : Math.Max(warmupEnd, warmupEnd + policy.ArtShare * Budget);
                schedule.FineTuneEpochs = Math.Max(policy.MinFineTuneEpochs, (int)((Budget - artEnd) / w));
            }
        }
    }
}
