using System.Globalization;
using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>One planning decision: when (training seconds, epochs finished), in which phase, what was set, and why.</summary>
/// <param name="AtSeconds">Training time used when the decision was taken.</param>
/// <param name="Epoch">Epochs finished when the decision was taken (0 = before the first).</param>
/// <param name="Phase">The phase of the epoch just finished.</param>
/// <param name="Setting">What was decided (e.g. "WarmupEpochs", "LambdaGrowth"), or <see cref="BudgetPlanner.Warning"/>.</param>
/// <param name="Value">The new value, as text.</param>
/// <param name="Reason">Why, with the measured figures the decision used.</param>
internal sealed record PlanningDecision(double AtSeconds, int Epoch, TrainingPhase Phase, string Setting, string Value, string Reason)
{
    public bool IsWarning => Setting == BudgetPlanner.Warning;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"[{AtSeconds:F1} s, after epoch {Epoch}] {(IsWarning ? "warning" : Setting + " = " + Value)}: {Reason}");
}

/// <summary>What the trainer tells the planner after every epoch.</summary>
/// <param name="Phase">Phase of the epoch just finished.</param>
/// <param name="PhaseEpoch">Its 0-based index within the phase.</param>
/// <param name="ElapsedSeconds">Training time used so far (across resumes), at the end of the epoch.</param>
/// <param name="DenseTrainAccuracy">The dense model's running train accuracy (%).</param>
/// <param name="PrunedTrainAccuracy">ART: the pruned copy's train accuracy (%).</param>
/// <param name="Lambda">ART: λ of the epoch.</param>
/// <param name="StopRuleFired">ART: the stop rule fired after this epoch.</param>
internal sealed record EpochObservation(TrainingPhase Phase, int PhaseEpoch, double ElapsedSeconds, double DenseTrainAccuracy,
    double? PrunedTrainAccuracy = null, double Lambda = 0, bool StopRuleFired = false);

/// <summary>One ART epoch's gap: dense minus pruned-copy train accuracy (pp) at its λ.</summary>
internal sealed record GapPoint(int ArtEpoch, double Lambda, double Gap);

/// <summary>What a planner needs to know about the run; everything else it measures.</summary>
internal sealed record BudgetSettings
{
    public required double BudgetSeconds { get; init; }
    public required ScheduleKnobs Fixed { get; init; }
    public required bool OneShot { get; init; }
    public required double LearningRate { get; init; }
    public required int StopWindowHalfSize { get; init; }
    /// <summary>Upper bound on ART epochs even when the budget would allow more (the options' cap).</summary>
    public required int SafetyArtCap { get; init; }
    /// <summary>First guess of the λ at which ART's stop rule fires (<see cref="BudgetPlanner.FiringLambdaGuess"/>); refined from the gaps.</summary>
    public required double FiringLambdaGuess { get; init; }

    public static BudgetSettings From(TrainingOptions options, int stepsPerEpoch) => new()
    {
        BudgetSeconds = (options.TimeBudget ?? throw new ArgumentException("No time budget.", nameof(options))).TotalSeconds,
        Fixed = options.FixedKnobs,
        OneShot = options.Method == PruningMethod.OneShotMagnitude,
        LearningRate = options.LearningRate,
        StopWindowHalfSize = options.StopWindowHalfSize,
        SafetyArtCap = options.MaxArtEpochs,
        FiringLambdaGuess = BudgetPlanner.FiringLambdaGuess(options.Architecture, options.LearningRate, stepsPerEpoch),
    };
}

/// <summary>The planner's memory: measured epoch costs, gaps, its firing-level estimate and its decisions (saved in checkpoints).</summary>
internal sealed class BudgetPlannerState
{
    /// <summary>Training time used at the last observation.</summary>
    public double ElapsedSeconds { get; set; }
    /// <summary>Wall seconds between consecutive observations, per phase (checkpoints and probes included).</summary>
    public List<double> WarmupCosts { get; set; } = new();
    public List<double> ArtCosts { get; set; } = new();
    public List<double> FineTuneCosts { get; set; } = new();
    public List<GapPoint> Gaps { get; set; } = new();
    /// <summary>Current estimate of the λ at which the stop rule fires (0 until ART is planned).</summary>
    public double FiringLambda { get; set; }
    /// <summary>The ART epoch (0-based) by which λ is planned to reach <see cref="FiringLambda"/>.</summary>
    public int ReachArtEpoch { get; set; }
    public bool Started { get; set; }
    public bool ArtPlanned { get; set; }
    public bool FineTunePlanned { get; set; }
    public List<PlanningDecision> Decisions { get; set; } = new();
    /// <summary>Kinds of warning already given (each is given once).</summary>
    public List<string> Warned { get; set; } = new();
}

/// <summary>
/// Plans a run to fit a time budget from measured epoch times, and re-plans after every epoch. Pure C#: the trainer
/// feeds it <see cref="EpochObservation"/>s and it edits the <see cref="TrainingSchedule"/> between epochs.
/// </summary>
/// <remarks>
/// <para>What it may change, and when (the paper's rules inside a phase are the trainer's and stay untouched: λ is constant
/// within an epoch, the threshold strict, the stop window as configured, the fine-tune optimiser fresh and its gradients
/// masked):</para>
/// <list type="bullet">
/// <item>Warm-up length, after every warm-up epoch: <see cref="WarmupShare"/> of the budget at the measured epoch time
/// (<see cref="OneShotWarmupShare"/> for one-shot pruning, which has no ART).</item>
/// <item>λ_init and η, when warm-up ends: λ sweeps from 1/<see cref="SweepRange"/> of the estimated firing level λ* up to λ*
/// by <see cref="ReachFraction"/> of the ART epochs that fit in <see cref="ArtShare"/> of the budget. λ* starts from
/// <see cref="FiringLambdaGuess"/> (measured with this engine) and is raised when the gaps say so.</item>
/// <item>η, after every ART epoch (raised, at most to <see cref="MaxGrowth"/>): λ must reach λ* by the planned epoch with the
/// stop window's m epochs to spare, and <see cref="FiringMargin"/>·λ* by the last ART epoch that still leaves the minimum
/// fine-tune (<see cref="MinFineTuneShare"/> of the budget, at least <see cref="MinFineTuneEpochs"/> epochs). Slower ART
/// epochs leave fewer epochs, so η rises; a gap (dense − pruned train accuracy) that closes too slowly per e-fold of λ
/// raises λ* (at most to <see cref="MaxFiringFactor"/> times the first guess), so η rises. Once λ is past
/// FiringMargin·λ*, η drops back to <see cref="MinGrowth"/> so that λ does not run away.</item>
/// <item>The ART cap: when the time left only fits the minimum fine-tune, ART ends (the report says the cap forced the
/// prune if the stop rule had not fired).</item>
/// <item>Fine-tune length and LR steps (at 1/2 and 3/4, as the paper's 80/120 of 160), when ART ends: the time left;
/// after every fine-tune epoch the length shrinks if epochs got slower. LR steps already applied never move.</item>
/// </list>
/// <para>Knobs in <see cref="BudgetSettings.Fixed"/> are kept exactly; when they make the plan predict that ART will not stop
/// within the budget, a warning is recorded instead.</para>
/// </remarks>
internal sealed class BudgetPlanner
{
    /// <summary><see cref="PlanningDecision.Setting"/> of a warning.</summary>
    public const string Warning = "Warning";

    /// <summary>Share of the budget for the dense warm-up (the paper: 60 of ≈270 epochs).</summary>
    public const double WarmupShare = 0.25;
    /// <summary>Warm-up share for one-shot magnitude pruning: warm-up and ART's share go to dense training.</summary>
    public const double OneShotWarmupShare = 0.55;
    /// <summary>Share of the budget within which ART is planned to stop.</summary>
    public const double ArtShare = 0.30;
    /// <summary>Time always kept for fine-tuning: this share of the budget, and at least <see cref="MinFineTuneEpochs"/> epochs.</summary>
    public const double MinFineTuneShare = 0.15;
    public const int MinFineTuneEpochs = 3;
    /// <summary>ART epoch ÷ warm-up epoch time before an ART epoch was measured (docs/bench-size.md: 1.4 LeNet-5, 1.2 ResNet-20).</summary>
    public const double ArtCostRatio = 1.4;
    /// <summary>λ starts at λ*/16 and sweeps up to λ*: ART explores at small λ first, as in the paper.</summary>
    public const double SweepRange = 16;
    /// <summary>λ reaches λ* after this fraction of the planned ART epochs, leaving room for the stop window.</summary>
    public const double ReachFraction = 0.75;
    /// <summary>By the last ART epoch that fits, λ has reached this multiple of λ*: the stop rule gets its chance.</summary>
    public const double FiringMargin = 4;
    /// <summary>λ* is never raised past this multiple of the first guess: a gap that does not close at λ that large is not
    /// one more λ can close, and a still larger λ would only wipe out the dense model.</summary>
    public const double MaxFiringFactor = 64;
    public const double MinGrowth = 1.05;
    public const double MaxGrowth = 3.0;

    private readonly BudgetSettings settings;
    private readonly List<PlanningDecision> pending = new();

    public BudgetPlanner(BudgetSettings settings, BudgetPlannerState? state = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!(settings.BudgetSeconds > 0)) throw new ArgumentOutOfRangeException(nameof(settings), settings.BudgetSeconds, "The budget must be positive.");
        this.settings = settings;
        State = state ?? new BudgetPlannerState();
    }

    public BudgetSettings Settings => settings;
    public BudgetPlannerState State { get; }
    public IReadOnlyList<PlanningDecision> Decisions => State.Decisions;
    private double Budget => settings.BudgetSeconds;
    private bool IsFixed(ScheduleKnobs knob) => (settings.Fixed & knob) != 0;

    /// <summary>Steps per epoch at which <see cref="FiringStepGuess"/> was measured (Fashion-MNIST's 60,000 images at batch 256).</summary>
    public const int ReferenceStepsPerEpoch = 235;

    /// <summary>
    /// lr·λ at which ART's stop rule fired with this engine on Fashion-MNIST at <see cref="ReferenceStepsPerEpoch"/> steps per
    /// epoch (README demo; docs/bench-size.md): LeNet-5 1.7e-4 at κ 0.98 (the same λ at 157 steps; κ 0.9 fired at 2/3 of it).
    /// ResNet-20 (batch norm makes conv weights scale-free, so far more λ is needed): 2.9e-3 at κ 0.9 with 20 steps per epoch,
    /// i.e. ≈8.5e-4 at the reference by <see cref="FiringLambdaGuess"/>'s scaling. Only a starting point: the gaps raise it.
    /// </summary>
    public static double FiringStepGuess(Architecture architecture) => architecture switch
    {
        Architecture.LeNet5 or Architecture.Mlp => 1.7e-4,
        _ => 8.5e-4,
    };

    /// <summary>
    /// First guess of the λ at which the stop rule fires: <see cref="FiringStepGuess"/>/lr, times √(235 / steps per epoch).
    /// Fewer steps per epoch need a larger λ (LeNet-5 on 3,000 images, 12 steps per epoch, fired near 2.4e-2 instead of
    /// 3.4e-3); the square root sits between "λ per step" and "λ per epoch", which both mispredict one of the measurements.
    /// </summary>
    public static double FiringLambdaGuess(Architecture architecture, double learningRate, int stepsPerEpoch) =>
        FiringStepGuess(architecture) / learningRate * Math.Sqrt((double)ReferenceStepsPerEpoch / Math.Max(1, stepsPerEpoch));

    /// <summary>Decisions taken since the last call (the trainer logs them; warnings also become report notes).</summary>
    public IReadOnlyList<PlanningDecision> TakeNew()
    {
        var list = pending.ToList();
        pending.Clear();
        return list;
    }

    /// <summary>Records what the planner will choose before the first epoch (no measurement yet).</summary>
    public void Start(TrainingSchedule schedule)
    {
        if (State.Started) return;
        State.Started = true;
        var planned = Enum.GetValues<ScheduleKnobs>().Where(k => k is not ScheduleKnobs.None and not ScheduleKnobs.All && !IsFixed(k)).ToList();
        var kept = Enum.GetValues<ScheduleKnobs>().Where(k => k is not ScheduleKnobs.None and not ScheduleKnobs.All && IsFixed(k)).ToList();
        if (settings.OneShot) planned.RemoveAll(k => k is ScheduleKnobs.LambdaInit or ScheduleKnobs.LambdaGrowth or ScheduleKnobs.MaxArtEpochs);
        Decide(0, 0, TrainingPhase.Warmup, "TimeBudget", F($"{Budget:F0} s"),
            "plans " + (planned.Count == 0 ? "nothing" : string.Join(", ", planned)) + " from measured epoch times" +
            (kept.Count == 0 ? "" : "; kept as set: " + string.Join(", ", kept.Select(k => F($"{k} = {Value(k, schedule)}")))) + ".");
    }

    /// <summary>Re-plans after an epoch; edits <paramref name="schedule"/> for the epochs that follow.</summary>
    public void AfterEpoch(EpochObservation epoch, TrainingSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(schedule);
        if (!State.Started) Start(schedule);
        var cost = Math.Max(0, epoch.ElapsedSeconds - State.ElapsedSeconds);
        State.ElapsedSeconds = epoch.ElapsedSeconds;
        switch (epoch.Phase)
        {
            case TrainingPhase.Warmup:
                State.WarmupCosts.Add(cost);
                AfterWarmupEpoch(epoch, schedule);
                break;
            case TrainingPhase.Art:
                State.ArtCosts.Add(cost);
                if (epoch.PrunedTrainAccuracy is { } pruned)
                    State.Gaps.Add(new GapPoint(epoch.PhaseEpoch, epoch.Lambda, epoch.DenseTrainAccuracy - pruned));
                AfterArtEpoch(epoch, schedule);
                break;
            default:
                State.FineTuneCosts.Add(cost);
                AfterFineTuneEpoch(epoch, schedule);
                break;
        }
    }

    /// <summary>One line for progress: used, left, and the current plan.</summary>
    public string Status(TrainingSchedule schedule, TrainingPhase phase)
    {
        var used = State.ElapsedSeconds;
        var plan = settings.OneShot
            ? F($"warm-up {schedule.WarmupEpochs}, fine-tune {schedule.FineTuneEpochs}")
            : F($"warm-up {schedule.WarmupEpochs}, ART ≤ {(phase == TrainingPhase.FineTune ? State.ArtCosts.Count : schedule.MaxArtEpochs)}, fine-tune {schedule.FineTuneEpochs}");
        return F($"Budget: {used:F1} s of {Budget:F0} s used, {Math.Max(0, Budget - used):F1} s left; plan: {plan}");
    }

    /// <summary>The report's budget section: the decisions, and the time used per phase (wall time between epochs).</summary>
    public BudgetReport Summary(TrainingSchedule schedule, double usedSeconds) => new()
    {
        BudgetSeconds = Budget,
        UsedSeconds = Math.Max(usedSeconds, State.ElapsedSeconds),
        WarmupSeconds = State.WarmupCosts.Sum(),
        ArtSeconds = State.ArtCosts.Sum(),
        FineTuneSeconds = State.FineTuneCosts.Sum(),
        FixedKnobs = settings.Fixed,
        Schedule = schedule.Clone(),
        Decisions = State.Decisions.ToList(),
    };

    // ---------------------------------------------------------------- warm-up

    private void AfterWarmupEpoch(EpochObservation epoch, TrainingSchedule schedule)
    {
        var done = epoch.PhaseEpoch + 1;
        var w = WarmupCost();
        var share = settings.OneShot ? OneShotWarmupShare : WarmupShare;
        if (!IsFixed(ScheduleKnobs.WarmupEpochs))
        {
            var target = Math.Max(1, (int)Math.Round(share * Budget / w));
            // The first epoch also pays for set-up (and on a busy machine for whatever else starts with it): measure a
            // second one before ending warm-up, unless even two epochs would take half the budget.
            if (done == 1 && 2 * w <= 0.5 * Budget) target = Math.Max(target, 2);
            var current = schedule.WarmupEpochs;
            // Hysteresis: the first measurement always sets it; later ones only when it moves by 20 % (at least 1 epoch) or
            // warm-up must end now.
            if (done == 1 || target <= done || Math.Abs(target - current) >= Math.Max(1, current / 5))
            {
                var next = Math.Max(done, target);
                if (next != current || done == 1)
                {
                    schedule.WarmupEpochs = next;
                    Decide(epoch, "WarmupEpochs", next.ToString(CultureInfo.InvariantCulture),
                        F($"{share:P0} of the {Budget:F0} s budget at {w:F2} s per warm-up epoch") +
                        (next == done && target < done ? " (warm-up ends now)" : "") + ".");
                }
            }
        }
        else if (done == 1)
        {
            var warmupEnd = epoch.ElapsedSeconds + (schedule.WarmupEpochs - done) * w;
            var minimum = (settings.OneShot ? 0 : (settings.StopWindowHalfSize + 1) * ArtCostRatio * w) + FineTuneReserve(schedule, w);
            if (warmupEnd + minimum > Budget)
                Warn(epoch, "warmup", F($"ART will not stop within the budget: the fixed warm-up of {schedule.WarmupEpochs} epochs ends at ≈{warmupEnd:F0} s at {w:F2} s per epoch, leaving less than the {minimum:F0} s needed for {settings.StopWindowHalfSize + 1} ART epochs and the minimum fine-tune of the {Budget:F0} s budget."));
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
                schedule.MaxArtEpochs = Math.Min(settings.SafetyArtCap, Math.Max(1, (int)((Budget - warmupEnd - FineTuneReserve(schedule, w)) / (ArtCostRatio * w))));
            if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            {
                var artEnd = settings.OneShot ? warmupEnd : Math.Max(warmupEnd, warmupEnd + ArtShare * Budget);
                schedule.FineTuneEpochs = Math.Max(MinFineTuneEpochs, (int)((Budget - artEnd) / w));
            }
        }
    }

    // ---------------------------------------------------------------- ART

    private void PlanArt(EpochObservation epoch, TrainingSchedule schedule)
    {
        State.ArtPlanned = true;
        var m = settings.StopWindowHalfSize;
        var w = WarmupCost();
        var a = ArtCost();
        var left = Budget - epoch.ElapsedSeconds;
        var reserve = FineTuneReserve(schedule, FineTuneCost());
        var fit = Math.Max(1, (int)((left - reserve) / a));
        // Every phase runs at least once (the paper's rules); a budget that cannot hold that is said so, not hidden.
        if (left - reserve < 2 * a && left - reserve >= a)
            Warn(epoch, "oneart", F($"only one ART epoch (≈{a:F1} s) fits before the minimum fine-tune ({reserve:F0} s): ART runs at the estimated firing λ, without the sweep up to it that lets the stop rule choose; a longer budget gives ART room."));
        if (left - reserve < a)
            Warn(epoch, "short", F($"the budget is too short for this network and data: {Math.Max(0, left):F0} s are left after warm-up, but one ART epoch (≈{a:F1} s) and the minimum fine-tune ({reserve:F0} s) need {a + reserve:F0} s; the run will end ≈{a + reserve - left:F0} s past the budget."));
        if (!IsFixed(ScheduleKnobs.MaxArtEpochs))
        {
            schedule.MaxArtEpochs = Math.Min(settings.SafetyArtCap, fit);
            Decide(epoch, "MaxArtEpochs", schedule.MaxArtEpochs.ToString(CultureInfo.InvariantCulture),
                F($"ART epochs that fit in the {left:F0} s left after keeping {reserve:F0} s for fine-tuning, at ≈{a:F2} s per ART epoch ({(State.ArtCosts.Count == 0 ? F($"{ArtCostRatio}× the warm-up epoch, until one is measured") : "measured")})."));
        }
        var cap = Math.Min(schedule.MaxArtEpochs, fit);
        var planned = Math.Clamp((int)(ArtShare * Budget / a), 1, cap);
        // The epoch (0-based) by which λ reaches λ*: leave the stop window's m epochs before the cap.
        var reach = Math.Max(1, Math.Min((int)Math.Round(ReachFraction * planned) - 1, cap - 1 - m));

        State.ReachArtEpoch = reach;
        State.FiringLambda = settings.FiringLambdaGuess;
        var target = State.FiringLambda;
        var lambdaInit = schedule.LambdaInit;
        var growth = schedule.LambdaGrowth;
        string why;
        switch (IsFixed(ScheduleKnobs.LambdaInit), IsFixed(ScheduleKnobs.LambdaGrowth))
        {
            case (false, false):
                growth = Math.Pow(SweepRange, 1.0 / reach);
                lambdaInit = target / SweepRange;
                if (growth > MaxGrowth)
                {
                    growth = MaxGrowth;
                    lambdaInit = target / Math.Pow(growth, reach);
                }
                growth = Math.Max(growth, MinGrowth);
                // The stop rule must get its chance: FiringMargin·λ* by the last ART epoch that fits — planned for ART epochs
                // twice as slow as the guess (it is only a guess until the first is measured; η cannot undo a λ_init too low).
                // With a single ART epoch there is nothing to sweep: it runs at λ* (the warning above says the budget is short).
                var sure = cap >= 2 ? Math.Max(2, cap / 2) : 1;
                var wanted = sure >= 2 ? FiringMargin * target : target;
                if (sure >= 2 && lambdaInit * Math.Pow(growth, sure - 1) < wanted)
                    growth = Math.Min(MaxGrowth, Math.Pow(wanted / lambdaInit, 1.0 / (sure - 1)));
                if (lambdaInit * Math.Pow(growth, sure - 1) < wanted)
                    lambdaInit = wanted / Math.Pow(growth, sure - 1);
                why = "both";
                break;
            case (true, false):
                growth = Math.Clamp(lambdaInit >= target ? MinGrowth : Math.Pow(target / lambdaInit, 1.0 / reach), MinGrowth, MaxGrowth);
                why = "growth";
                break;
            case (false, true):
                lambdaInit = target / Math.Pow(growth, reach);
                why = "init";
                break;
            default:
                why = "none";
                break;
        }
        schedule.SetLambdaPath(lambdaInit, growth);
        var basis = F($"λ* ≈ {target:0.##e+0} (first guess for this network, learning rate and steps per epoch); ART is planned to stop within ≈{planned} epochs ({ArtShare:P0} of the budget) and may run {cap} before the minimum fine-tune");
        if (why is "both" or "init")
            Decide(epoch, "LambdaInit", F($"{lambdaInit:0.###e+0}"), lambdaInit < target
                ? F($"λ sweeps up from λ*/{target / lambdaInit:0.#}; {basis}.")
                : F($"{lambdaInit / target:0.#}·λ*: so few ART epochs fit that λ starts in the range where the stop rule should fire; {basis}."));
        if (why is "both" or "growth")
            Decide(epoch, "LambdaGrowth", F($"{growth:0.####}"), F($"{(lambdaInit >= target ? "λ starts at or above λ*" : $"λ reaches λ* in ART epoch {1 + (int)Math.Ceiling(Math.Log(target / lambdaInit) / Math.Log(growth))}")} and {FiringMargin}·λ* by epoch {cap} at the latest; {basis}."));
        PredictFiring(epoch, schedule, -1, cap, "plan");
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            schedule.FineTuneEpochs = Math.Max(MinFineTuneEpochs, (int)((left - planned * a) / FineTuneCost()));
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
                Decide(epoch, "MaxArtEpochs", k.ToString(CultureInfo.InvariantCulture),
                    F($"the cap forces the prune now: the {Math.Max(0, left):F0} s left fit only the minimum fine-tune ({reserve:F0} s), not another ART epoch ({a:F2} s); λ reached {epoch.Lambda:0.##e+0} (λ* ≈ {State.FiringLambda:0.##e+0})."));
                if (epoch.Lambda < FiringMargin * State.FiringLambda)
                    Warn(epoch, "shortart", F($"ART ends after {k} epoch(s) of {a:F2} s (the time left fits only the minimum fine-tune): λ reached {epoch.Lambda:0.##e+0}, short of {FiringMargin}·λ* ≈ {FiringMargin * State.FiringLambda:0.##e+0} (λ* as estimated from the gaps so far); the cap forces the prune before the stop rule has had its full chance (a longer budget would give it one)."));
            }
            // The cap only bites at the end (above); until then it is a projection, re-recorded when it moves by a quarter.
            else if (fit > 0 && Math.Abs(cap - schedule.MaxArtEpochs) >= Math.Max(1, schedule.MaxArtEpochs / 4))
            {
                schedule.MaxArtEpochs = cap;
                Decide(epoch, "MaxArtEpochs", cap.ToString(CultureInfo.InvariantCulture),
                    F($"ART epochs that fit before the minimum fine-tune ({reserve:F0} s) at {a:F2} s per ART epoch (measured)."));
            }
        }
        else if (fit <= 0 && !epoch.StopRuleFired && k < schedule.MaxArtEpochs)
            Warn(epoch, "artcap", F($"ART will not stop within the budget: its time is used up ({Math.Max(0, left):F0} s left, {reserve:F0} s kept for fine-tuning) but MaxArtEpochs = {schedule.MaxArtEpochs} was set explicitly, so ART continues until its stop rule fires or that cap."));

        if (epoch.StopRuleFired || k >= schedule.MaxArtEpochs)
        {
            PlanFineTune(epoch, schedule);
            return;
        }
        // Epochs still to come within the cap and the budget (explicit caps win, but the budget still sets the pace).
        var remaining = Math.Max(1, Math.Min(schedule.MaxArtEpochs - k, IsFixed(ScheduleKnobs.MaxArtEpochs) ? Math.Max(1, fit) : int.MaxValue));
        if (!IsFixed(ScheduleKnobs.LambdaGrowth)) RaiseGrowth(epoch, schedule, remaining);
        PredictFiring(epoch, schedule, epoch.PhaseEpoch, remaining, "replan");
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
            schedule.FineTuneEpochs = Math.Max(MinFineTuneEpochs, (int)((left - Math.Min(remaining, Math.Max(0, fit)) * a) / FineTuneCost()));
    }

    /// <summary>
    /// Raises λ* when the gap closes too slowly. The gap is modelled as linear in ln λ over the last ART epochs (it closes as
    /// λ grows geometrically); the λ where that line crosses −0.5 pp is where the stop rule is expected to fire.
    /// </summary>
    private double MaxFiringLambda => MaxFiringFactor * settings.FiringLambdaGuess;

    private void UpdateFiringLambda(EpochObservation epoch)
    {
        var gaps = State.Gaps;
        if (gaps.Count < 2 || State.FiringLambda <= 0) return;
        var last = gaps[^1];
        if (last.Gap <= 0 || !(last.Lambda > 0)) return;
        // Early in the sweep (λ ≪ λ*) little closing is expected; judge the pace only from λ*/4 on.
        if (last.Lambda < State.FiringLambda / 4) return;
        var points = gaps.TakeLast(4).Where(g => g.Lambda > 0).ToList();
        if (points.Count < 2) return;
        var slope = Slope(points.Select(p => Math.Log(p.Lambda)).ToList(), points.Select(p => p.Gap).ToList());
        var old = State.FiringLambda;
        if (old >= MaxFiringLambda) return;
        if (slope < -0.25)
        {
            var needed = last.Lambda * Math.Exp((last.Gap + 0.5) / -slope);
            if (needed > old * 1.1)
            {
                State.FiringLambda = Math.Min(Math.Min(needed, old * 4), MaxFiringLambda);
                Decide(epoch, "FiringLambda", F($"{State.FiringLambda:0.##e+0}"),
                    F($"the pruned copy is not closing on the dense model fast enough: gap {last.Gap:F1} pp at λ {last.Lambda:0.##e+0}, closing {-slope:F1} pp per e-fold of λ over the last {points.Count} ART epochs, so the stop rule needs λ ≈ {needed:0.##e+0} (estimate was {old:0.##e+0}; raised at most 4× per epoch)."));
            }
        }
        else if (last.Lambda >= old / 2)
        {
            State.FiringLambda = Math.Min(Math.Max(old, last.Lambda) * 2, MaxFiringLambda);
            Decide(epoch, "FiringLambda", F($"{State.FiringLambda:0.##e+0}"),
                F($"the gap is not closing (gap {last.Gap:F1} pp at λ {last.Lambda:0.##e+0}, {-slope:F1} pp per e-fold of λ over the last {points.Count} ART epochs) although λ is near the estimate {old:0.##e+0}."));
        }
    }

    /// <summary>
    /// Raises η so that λ reaches λ* by the planned epoch (once that has passed without the stop rule firing: halfway to the
    /// cap; at least 3 epochs ahead when there is room), always with the stop window's m epochs to spare, and FiringMargin·λ*
    /// by the cap. Lowers it (to <see cref="MinGrowth"/>) only once λ is past FiringMargin·λ*.
    /// </summary>
    private void RaiseGrowth(EpochObservation epoch, TrainingSchedule schedule, int remaining)
    {
        var m = settings.StopWindowHalfSize;
        var lambda = schedule.Lambda(epoch.PhaseEpoch);
        if (!(lambda > 0)) return;
        var target = State.FiringLambda;
        if (lambda >= FiringMargin * target)
        {
            // Past the whole range where the stop rule was expected to fire (and λ* is at its ceiling, or the gap has
            // closed): growing λ faster would only wipe out the dense model. Back to slow growth; the cap decides.
            if (schedule.LambdaGrowth > MinGrowth)
            {
                var previous = schedule.LambdaGrowth;
                schedule.ChangeGrowth(epoch.PhaseEpoch, MinGrowth);
                Decide(epoch, "LambdaGrowth", F($"{MinGrowth}"),
                    F($"lowered from {previous:0.####}: λ ({lambda:0.##e+0}) is past {FiringMargin}·λ* ≈ {FiringMargin * target:0.##e+0}, the whole range where the stop rule was expected to fire; it keeps growing slowly until the stop rule fires or the cap forces the prune."));
            }
            return;
        }
        var reachIn = State.ReachArtEpoch - epoch.PhaseEpoch;
        if (reachIn <= 0) reachIn = Math.Max(1, (remaining - m) / 2);
        // A new λ* is approached over at least 3 epochs when there is room: no single jump of λ.
        reachIn = Math.Clamp(Math.Max(reachIn, 3), 1, Math.Max(1, remaining - m));
        var required = schedule.LambdaGrowth;
        if (lambda < target) required = Math.Max(required, Math.Pow(target / lambda, 1.0 / reachIn));
        required = Math.Max(required, Math.Pow(FiringMargin * target / lambda, 1.0 / remaining));
        if (required <= schedule.LambdaGrowth * 1.001) return;
        var old = schedule.LambdaGrowth;
        var growth = Math.Min(MaxGrowth, required);
        if (growth > old)
        {
            schedule.ChangeGrowth(epoch.PhaseEpoch, growth);
            State.ReachArtEpoch = epoch.PhaseEpoch + reachIn;
            Decide(epoch, "LambdaGrowth", F($"{growth:0.####}"),
                F($"raised from {old:0.####} for the ART epochs after {epoch.PhaseEpoch + 1}: λ (now {lambda:0.##e+0}) must reach λ* ≈ {target:0.##e+0} by ART epoch {epoch.PhaseEpoch + 1 + reachIn} and {FiringMargin}·λ* by epoch {epoch.PhaseEpoch + 1 + remaining}, the last that fits before the minimum fine-tune at {ArtCost():F2} s per ART epoch."));
        }
        if (required > MaxGrowth)
            Warn(epoch, "maxgrowth", F($"λ can grow at most ×{MaxGrowth} per epoch; with {remaining} ART epoch(s) left it reaches {lambda * Math.Pow(MaxGrowth, remaining):0.##e+0}, short of {FiringMargin}·λ* ≈ {FiringMargin * target:0.##e+0}: the cap may force the prune before the stop rule has had its full chance."));
    }

    /// <summary>With λ_init/η fixed by the user: warns (once) when λ will not reach λ* before the last ART epoch that fits.</summary>
    private void PredictFiring(EpochObservation epoch, TrainingSchedule schedule, int lastArtEpoch, int remaining, string when)
    {
        if (!IsFixed(ScheduleKnobs.LambdaGrowth) && !IsFixed(ScheduleKnobs.LambdaInit)) return;
        if (!IsFixed(ScheduleKnobs.LambdaGrowth) && when == "replan") return;   // η is still the planner's to raise
        var final = schedule.Lambda(lastArtEpoch + remaining);
        if (final >= State.FiringLambda) return;
        var fixedText = string.Join(" and ", new[] { ScheduleKnobs.LambdaInit, ScheduleKnobs.LambdaGrowth }.Where(IsFixed).Select(k => F($"{k} = {Value(k, schedule)}")));
        Warn(epoch, "lambda", F($"ART is predicted not to stop within the budget: with {fixedText} set explicitly, λ reaches only {final:0.##e+0} by ART epoch {lastArtEpoch + 1 + remaining}, the last that fits, below the ≈{State.FiringLambda:0.##e+0} where the stop rule is expected to fire; the cap will likely force the prune."));
    }

    // ---------------------------------------------------------------- fine-tune

    private void PlanFineTune(EpochObservation epoch, TrainingSchedule schedule)
    {
        State.FineTunePlanned = true;
        var f = FineTuneCost();
        var left = Budget - epoch.ElapsedSeconds;
        if (!IsFixed(ScheduleKnobs.FineTuneEpochs))
        {
            var fit = (int)Math.Floor(left / f);
            var epochs = Math.Max(MinFineTuneEpochs, fit);
            schedule.FineTuneEpochs = epochs;
            Decide(epoch, "FineTuneEpochs", epochs.ToString(CultureInfo.InvariantCulture), fit < MinFineTuneEpochs
                ? F($"the budget is nearly used ({Math.Max(0, left):F0} s left at ≈{f:F2} s per fine-tune epoch): the minimum fine-tune of {MinFineTuneEpochs} epochs runs anyway, ≈{epochs * f - left:F0} s past the budget.")
                : F($"the {left:F0} s left at ≈{f:F2} s per fine-tune epoch{(State.FineTuneCosts.Count == 0 ? " (a warm-up epoch's time until one is measured)" : "")}."));
        }
        if (!IsFixed(ScheduleKnobs.LearningRateSteps))
        {
            schedule.LearningRateSteps = Steps(schedule.FineTuneEpochs);
            Decide(epoch, "LearningRateSteps", StepsText(schedule.LearningRateSteps),
                F($"at 1/2 and 3/4 of the {schedule.FineTuneEpochs} fine-tune epochs, as the paper's 80 and 120 of 160."));
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
        var target = Math.Max(MinFineTuneEpochs, done + Math.Max(0, (int)Math.Floor(left / f)));
        var current = schedule.FineTuneEpochs;
        // Hysteresis against the noise of a shared machine: shorten only for a real overrun (2 % of the budget, one epoch,
        // or a fifth of the fine-tune time still ahead — there is time to correct later), lengthen only for a real surplus
        // (5 %, one epoch or that fifth). Either way LR steps already applied stay where they were.
        var ahead = (current - done) * f;
        var end = epoch.ElapsedSeconds + ahead;
        var shorten = target < current && end > Budget + Math.Max(Math.Max(0.02 * Budget, f), 0.2 * ahead);
        var lengthen = target > current && end < Budget - Math.Max(Math.Max(0.05 * Budget, f), 0.2 * ahead);
        if (!shorten && !lengthen) return;
        target = Math.Max(target, done);
        schedule.FineTuneEpochs = target;
        Decide(epoch, "FineTuneEpochs", target.ToString(CultureInfo.InvariantCulture), shorten
            ? F($"shortened from {current}: fine-tune epochs take {f:F2} s, so {current - done} more would end ≈{(current - done) * f - left:F0} s past the budget.")
            : F($"lengthened from {current}: fine-tune epochs take {f:F2} s, leaving time for {target - done} more within the budget."));
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
                Decide(epoch, "LearningRateSteps", StepsText(steps), F($"moved with the fine-tune length ({target} epochs); steps already applied stay."));
            }
        }
    }

    /// <summary>LR steps at 1/2 and 3/4 of a fine-tune of <paramref name="epochs"/> epochs (the paper's 80 and 120 of 160).</summary>
    internal static int[] Steps(int epochs) => new[] { epochs / 2, epochs * 3 / 4 }.Where(s => s >= 1 && s < epochs).Distinct().ToArray();

    // ---------------------------------------------------------------- estimates

    // Epoch times on a shared machine jump by 2× from one epoch to the next; medians keep one slow or fast epoch from
    // re-planning the run, and still follow a lasting change within a few epochs.

    /// <summary>Warm-up epoch time: the median of the last 8 after the first (which also pays for set-up) once there are two.</summary>
    private double WarmupCost()
    {
        var costs = State.WarmupCosts;
        if (costs.Count == 0) return Math.Max(1e-3, Budget / 100);
        return Math.Max(1e-3, costs.Count == 1 ? costs[0] : Median(costs.Skip(1).TakeLast(8)));
    }

    /// <summary>ART epoch time (pruning probe included): the median of the last 5, or a guess from the warm-up before the first.</summary>
    private double ArtCost() => State.ArtCosts.Count > 0 ? Math.Max(1e-3, Median(State.ArtCosts.TakeLast(5))) : ArtCostRatio * WarmupCost();

    /// <summary>
    /// Fine-tune epoch time: the median of the last 16 fine-tune epochs, filled up to 3 samples with the warm-up epoch time
    /// (the same pass over the data) while there are fewer: one slow or fast epoch early in the fine-tune does not re-plan
    /// it, a lasting change does within a few epochs.
    /// </summary>
    private double FineTuneCost()
    {
        var samples = State.FineTuneCosts.TakeLast(16).ToList();
        var prior = WarmupCost();
        while (samples.Count < 3) samples.Add(prior);
        return Math.Max(1e-3, Median(samples));
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
        : Math.Max(MinFineTuneShare * Budget, MinFineTuneEpochs * f);

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

    // ---------------------------------------------------------------- records

    private void Decide(EpochObservation epoch, string setting, string value, string reason) =>
        Decide(epoch.ElapsedSeconds, Epochs(), epoch.Phase, setting, value, reason);

    private void Decide(double at, int epochs, TrainingPhase phase, string setting, string value, string reason)
    {
        var decision = new PlanningDecision(Math.Round(at, 3), epochs, phase, setting, value, reason);
        State.Decisions.Add(decision);
        pending.Add(decision);
    }

    private void Warn(EpochObservation epoch, string kind, string text)
    {
        if (State.Warned.Contains(kind)) return;
        State.Warned.Add(kind);
        Decide(epoch, Warning, "", text);
    }

    private int Epochs() => State.WarmupCosts.Count + State.ArtCosts.Count + State.FineTuneCosts.Count;

    private static string Value(ScheduleKnobs knob, TrainingSchedule s) => knob switch
    {
        ScheduleKnobs.LambdaInit => F($"{s.LambdaInit:G3}"),
        ScheduleKnobs.LambdaGrowth => F($"{s.LambdaGrowth}"),
        ScheduleKnobs.WarmupEpochs => F($"{s.WarmupEpochs}"),
        ScheduleKnobs.MaxArtEpochs => F($"{s.MaxArtEpochs}"),
        ScheduleKnobs.FineTuneEpochs => F($"{s.FineTuneEpochs}"),
        _ => StepsText(s.LearningRateSteps),
    };

    private static string StepsText(IReadOnlyCollection<int> steps) => steps.Count == 0 ? "none" : string.Join(", ", steps);

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
