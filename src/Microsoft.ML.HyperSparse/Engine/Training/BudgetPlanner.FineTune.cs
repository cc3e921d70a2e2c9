using System.Globalization;

namespace Microsoft.ML.HyperSparse.Engine.Training;

internal sealed partial class BudgetPlanner
{
    private void PlanFineTune(EpochObservation epoch, TrainingSchedule schedule)
    {
        State.FineTunePlanned = true;
        var f = FineTuneCost();
        var left = Budget - epoch.ElapsedSeconds;
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
        {
            var fit = (int)Math.Floor(left / f);
            var epochs = Math.Max(policy.MinFineTuneEpochs, fit);
            schedule.FineTuneEpochs = epochs;
            Decide(epoch, PlanSetting.FineTuneEpochs, epochs.ToString(CultureInfo.InvariantCulture), fit < policy.MinFineTuneEpochs
                ? BudgetMessages.MinimumFineTunePastBudget(left, f, policy.MinFineTuneEpochs, epochs)
                : BudgetMessages.FineTuneFillsTimeLeft(left, f, measured: State.FineTuneCosts.Count != 0));
        }
        if (!IsFixed(ScheduleKnobs.LearningRateSteps))
        {
            schedule.LearningRateSteps = Steps(schedule.FineTuneEpochs);
            Decide(epoch, PlanSetting.LearningRateSteps, StepsText(schedule.LearningRateSteps),
                BudgetMessages.LearningRateStepsPlanned(schedule.FineTuneEpochs));
        }
    }

    private void AfterFineTuneEpoch(EpochObservation epoch, TrainingSchedule schedule)
    {
        if (!State.FineTunePlanned) PlanFineTune(epoch, schedule);
        if (IsFixed(ScheduleKnobs.FineTuneEpochs)) return;
        var done = epoch.PhaseEpoch + 1;
        if (done >= schedule.FineTuneEpochs) return;
        var f = FineTuneCost();
        var left = Budget - epoch.ElapsedSeconds;
        var target = Math.Max(policy.MinFineTuneEpochs, done + Math.Max(0, (int)Math.Floor(left / f)));
        var current = schedule.FineTuneEpochs;
        // Hysteresis against the noise of a shared machine: shorten only for a real overrun (2 % of the budget, one epoch,
        // or a fifth of the fine-tune time still ahead — there is time to correct later), lengthen only for a real surplus
        // (5 %, one epoch or that fifth). Either way LR steps already applied stay where they were.
        var ahead = (current - done) * f;
        var end = epoch.ElapsedSeconds + ahead;
        var shorten = target < current && end > Budget + Math.Max(Math.Max(policy.ShortenShare * Budget, f), policy.AheadShare * ahead);
        var lengthen = target > current && end < Budget - Math.Max(Math.Max(policy.LengthenShare * Budget, f), policy.AheadShare * ahead);
        if (!shorten && !lengthen) return;
        target = Math.Max(target, done);
        schedule.FineTuneEpochs = target;
        Decide(epoch, PlanSetting.FineTuneEpochs, target.ToString(CultureInfo.InvariantCulture), shorten
            ? BudgetMessages.FineTuneShortened(current, f, current - done, left)
            : BudgetMessages.FineTuneLengthened(current, f, target - done));
        if (!IsFixed(ScheduleKnobs.LearningRateSteps))
        {
            var old = schedule.LearningRateSteps.Order().ToArray();
            var proposed = Steps(target);
            // A step already applied stays where it was; the others move, never into the past.
            var steps = old.Select((s, i) => s < done ? s : i < proposed.Length ? Math.Max(done, proposed[i]) : -1)
                           .Where(s => s >= 0 && s < target).Distinct().Order().ToArray();
            if (!steps.SequenceEqual(old))
            {
                schedule.LearningRateSteps = steps;
                Decide(epoch, PlanSetting.LearningRateSteps, StepsText(steps), BudgetMessages.LearningRateStepsMoved(target));
            }
        }
    }

    /// <summary>
    /// LR steps at 1/2 and 3/4 of a fine-tune of <paramref name="epochs"/> epochs (the paper's 80 and 120 of 160): the
    /// paper's rule scaled to the length, not a tuned number, so not in <see cref="BudgetPolicy"/>.
    /// </summary>
    internal static int[] Steps(int epochs) => new[] { epochs / 2, epochs * 3 / 4 }.Where(s => s >= 1 && s < epochs).Distinct().ToArray();
}
