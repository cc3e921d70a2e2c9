using System.Globalization;
using Microsoft.ML.HyperSparse.Engine.Models;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>
/// Plans a run to fit a time budget from measured epoch times, and re-plans after every epoch. Pure C#: the trainer
/// feeds it <see cref="EpochObservation"/>s and it edits the <see cref="TrainingSchedule"/> between epochs.
/// </summary>
/// <remarks>
/// <para>What it may change, and when (the paper's rules inside a phase are the trainer's and stay untouched: λ is constant
/// within an epoch, the threshold strict, the stop window as configured, the fine-tune optimiser fresh and its gradients
/// masked). Every number below is a member of its <see cref="BudgetPolicy"/>:</para>
/// <list type="bullet">
/// <item>Warm-up length, after every warm-up epoch: <see cref="BudgetPolicy.WarmupShare"/> of the budget at the measured epoch time
/// (<see cref="BudgetPolicy.OneShotWarmupShare"/> for one-shot pruning, which has no ART).</item>
/// <item>λ_init and η, when warm-up ends: λ sweeps from 1/<see cref="BudgetPolicy.SweepRange"/> of the estimated firing level λ* up to λ*
/// by <see cref="BudgetPolicy.ReachFraction"/> of the ART epochs that fit in <see cref="BudgetPolicy.ArtShare"/> of the budget. λ* starts from
/// <see cref="BudgetPolicy.FiringLambdaGuess"/> (measured with this engine) and is raised when the gaps say so.</item>
/// <item>η, after every ART epoch (raised, at most to <see cref="BudgetPolicy.MaxGrowth"/>): λ must reach λ* by the planned epoch with the
/// stop window's m epochs to spare, and <see cref="BudgetPolicy.FiringMargin"/>·λ* by the last ART epoch that still leaves the minimum
/// fine-tune (<see cref="BudgetPolicy.MinFineTuneShare"/> of the budget, at least <see cref="BudgetPolicy.MinFineTuneEpochs"/> epochs). Slower ART
/// epochs leave fewer epochs, so η rises; a gap (dense − pruned train accuracy) that closes too slowly per e-fold of λ
/// raises λ* (at most to <see cref="BudgetPolicy.MaxFiringFactor"/> times the first guess), so η rises. Once λ is past
/// FiringMargin·λ*, η drops back to <see cref="BudgetPolicy.MinGrowth"/> so that λ does not run away.</item>
/// <item>The ART cap: when the time left only fits the minimum fine-tune, ART ends (the report says the cap forced the
/// prune if the stop rule had not fired).</item>
/// <item>Fine-tune length and LR steps (at 1/2 and 3/4, as the paper's 80/120 of 160), when ART ends: the time left;
/// after every fine-tune epoch the length shrinks if epochs got slower. LR steps already applied never move.</item>
/// </list>
/// <para>Knobs in <see cref="BudgetSettings.Fixed"/> are kept exactly; when they make the plan predict that ART will not stop
/// within the budget, a warning is recorded instead. The texts of reasons and warnings are <see cref="BudgetMessages"/>'.</para>
/// <para>Files: this one holds the public flow and the records; <c>.Warmup</c>, <c>.Art</c> and <c>.FineTune</c> plan
/// each phase; <c>.Estimates</c> turns measured epoch times and gaps into the figures they plan with.</para>
/// </remarks>
internal sealed partial class BudgetPlanner
{
    /// <summary>
    /// Kinds of warning, each given once per run. They are saved in checkpoints (<see cref="BudgetPlannerState.Warned"/>),
    /// so the texts must not change: a resumed run would warn again.
    /// </summary>
    internal static class WarningKind
    {
        public const string FixedWarmup = "warmup";
        public const string OneArtEpoch = "oneart";
        public const string TooShort = "short";
        public const string ShortArt = "shortart";
        public const string FixedArtCap = "artcap";
        public const string MaxGrowth = "maxgrowth";
        public const string FixedLambda = "lambda";
    }

    private readonly BudgetSettings settings;
    private readonly BudgetPolicy policy;
    private readonly List<PlanningDecision> pending = new();

    public BudgetPlanner(BudgetSettings settings, BudgetPlannerState? state = null, BudgetPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!(settings.BudgetSeconds > 0)) throw new ArgumentOutOfRangeException(nameof(settings), settings.BudgetSeconds, "The budget must be positive.");
        this.settings = settings;
        this.policy = policy ?? BudgetPolicy.Default;
        State = state ?? new BudgetPlannerState();
    }

    public BudgetSettings Settings => settings;
    public BudgetPolicy Policy => policy;
    public BudgetPlannerState State { get; }
    public IReadOnlyList<PlanningDecision> Decisions => State.Decisions;
    private double Budget => settings.BudgetSeconds;
    private bool IsFixed(ScheduleKnobs knob) => (settings.Fixed & knob) != 0;

    /// <summary><see cref="BudgetPolicy.FiringLambdaGuess"/> of <see cref="BudgetPolicy.Default"/>.</summary>
    public static double FiringLambdaGuess(Architecture architecture, double learningRate, int stepsPerEpoch) =>
        BudgetPolicy.Default.FiringLambdaGuess(architecture, learningRate, stepsPerEpoch);

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
        Decide(0, 0, TrainingPhase.Warmup, PlanSetting.TimeBudget, F($"{Budget:F0} s"),
            BudgetMessages.Plans(planned, kept.Select(k => F($"{k} = {Value(k, schedule)}")).ToList()));
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
        var plan = settings.OneShot
            ? BudgetMessages.OneShotPlan(schedule.WarmupEpochs, schedule.FineTuneEpochs)
            : BudgetMessages.ArtPlan(schedule.WarmupEpochs, phase == TrainingPhase.FineTune ? State.ArtCosts.Count : schedule.MaxArtEpochs, schedule.FineTuneEpochs);
        return BudgetMessages.Status(State.ElapsedSeconds, Budget, plan);
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

    // ---------------------------------------------------------------- records

    private void Decide(EpochObservation epoch, PlanSetting setting, string value, string reason) =>
        Decide(epoch.ElapsedSeconds, Epochs(), epoch.Phase, setting, value, reason);

    private void Decide(double at, int epochs, TrainingPhase phase, PlanSetting setting, string value, string reason)
    {
        var decision = new PlanningDecision(Math.Round(at, 3), epochs, phase, setting, value, reason);
        State.Decisions.Add(decision);
        pending.Add(decision);
    }

    /// <summary>Records a warning of <paramref name="kind"/> (one of <see cref="WarningKind"/>) unless one was given already.</summary>
    private void Warn(EpochObservation epoch, string kind, string text)
    {
        if (State.Warned.Contains(kind)) return;
        State.Warned.Add(kind);
        Decide(epoch, PlanSetting.Warning, "", text);
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
